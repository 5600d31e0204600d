"""`terraform destroy` of everything apply created (after the least-privilege runs filled the raw bucket)."""

from __future__ import annotations

import pytest
from cardpipe.contracts import names

from .deployment import ENV, Deployment

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_destroy_removes_everything_the_stack_created(e2e: Deployment) -> None:
    step = e2e.step("destroy")
    assert step.returncode == 0, step.explain()
    assert e2e.state() == {}
    buckets = {b["Name"] for b in e2e.moto.client("s3").list_buckets()["Buckets"]}
    assert buckets == {e2e.state_bucket}, "buckets left behind (force_destroy off in dev?)"
    prefix = names.resource_name(ENV, "")
    roles = [r["RoleName"] for r in e2e.moto.client("iam").list_roles()["Roles"]]
    assert [r for r in roles if r.startswith(prefix)] == []
    assert e2e.moto.client("lambda").list_functions()["Functions"] == []
