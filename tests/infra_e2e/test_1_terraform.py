"""Real Terraform against the emulator: init from the mirror, validate, plan, apply, an empty second plan.

The emulator copy is asserted first: exactly which resources it leaves out and which attributes it adjusts,
each for a stated emulator limitation, so any change (a new resource moto cannot create, a fix in moto that
makes an adjustment unnecessary, an exclusion pulling a dependent resource with it) fails here and is seen.
"""

from __future__ import annotations

import re

import pytest

from . import tfstack
from .deployment import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

# resource type -> how many the copy leaves out (nothing else may be excluded, no dependent may be pulled in).
EXPECTED_EXCLUDED = {"aws_mwaa_environment": 1, "aws_lambda_event_source_mapping": 1}
# (resource type, change): the kinds of adjustment the copy may make (each resource it applies to is listed in
# the terminal summary).
EXPECTED_ADJUSTED = {
    ("aws_lambda_function", "lifecycle.ignore_changes += dead_letter_config"),
    ("aws_vpc_security_group_ingress_rule", "lifecycle.ignore_changes += description"),
    ("aws_vpc_security_group_egress_rule", "lifecycle.ignore_changes += description"),
    ("aws_s3_bucket_policy", "Deny statement dropped: DenyInsecureTransport (Bool)"),
}


def test_the_emulator_copy_leaves_out_only_what_moto_cannot_create(e2e: Deployment) -> None:
    excluded: dict[str, int] = {}
    for item in e2e.copy.exclusions:
        excluded[item.address.split(".")[0]] = excluded.get(item.address.split(".")[0], 0) + 1
        assert item.reason
    dependents = [i.address for i in e2e.copy.exclusions if i.reason.startswith("references ")]
    assert dependents == [], f"an excluded resource took others with it: {dependents}"
    assert excluded == EXPECTED_EXCLUDED, "\n".join(f"{i.address}: {i.reason}" for i in e2e.copy.exclusions)
    kept = tfstack.blocks(e2e.copy.config)
    assert all(i.address not in kept for i in e2e.copy.exclusions)


def test_the_emulator_copy_adjusts_only_what_moto_cannot_round_trip(e2e: Deployment) -> None:
    adjusted = {(adj.address.split(".")[0], adj.change) for adj in e2e.copy.adjustments}
    assert adjusted == EXPECTED_ADJUSTED, "\n".join(f"{a.address}: {a.change}" for a in e2e.copy.adjustments)
    policies = e2e.copy.config["resource"].get("aws_s3_bucket_policy", {})
    adjusted_policies = {
        a.address for a in e2e.copy.adjustments if a.address.startswith("aws_s3_bucket_policy.")
    }
    assert adjusted_policies == {f"aws_s3_bucket_policy.{name}" for name in policies}


def test_every_aws_type_of_the_stack_talks_to_the_emulator(e2e: Deployment) -> None:
    """An unknown type would send its API calls to the real AWS endpoint: map it in tfstack.ENDPOINT_*."""
    types = tfstack.aws_types(e2e.copy.original)
    unmapped = sorted(t for t in types if tfstack.endpoint_for(t) is None)
    assert unmapped == []
    assert {tfstack.endpoint_for(t) for t in types} <= set(e2e.copy.services)


def test_init_installs_the_aws_provider_from_the_local_mirror(e2e: Deployment) -> None:
    step = e2e.step("init")
    assert step.returncode == 0, step.explain()
    lock = (e2e.copy.workdir / ".terraform.lock.hcl").read_text()
    assert re.search(
        rf'provider "{re.escape(tfstack.AWS_PROVIDER)}" {{\s+version\s+= "{e2e.provider_version}"', lock
    )


def test_validate(e2e: Deployment) -> None:
    step = e2e.step("validate")
    assert step.returncode == 0, step.explain()
    assert "The configuration is valid" in step.stdout


def test_a_fresh_environment_plans_before_the_snowflake_stack_has_state(e2e: Deployment) -> None:
    """Issue 8: the AWS stack reads the Snowflake stack's remote state; after the account bootstrap (which
    seeds each stack's empty state) it plans before the Snowflake stack was ever applied."""
    step = e2e.step("plan_fresh")
    assert step.returncode == 0, step.explain()


def test_plan_creates_every_resource(e2e: Deployment) -> None:
    step = e2e.step("plan")
    assert step.returncode == 0, step.explain()
    resources = tfstack.blocks({"resource": e2e.copy.config.get("resource", {})})
    counted = [body for body in resources.values() if "count" not in body and "for_each" not in body]
    summary = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", step.stdout)
    assert summary, step.stdout[-3000:]
    assert int(summary.group(2)) == int(summary.group(3)) == 0
    if len(counted) == len(resources):
        assert int(summary.group(1)) == len(resources)


def test_apply_of_the_saved_plan(e2e: Deployment) -> None:
    step = e2e.step("apply")
    assert step.returncode == 0, step.explain()
    state = e2e.state()
    expected = set(tfstack.blocks({"resource": e2e.copy.config.get("resource", {})}))
    assert expected <= set(state), sorted(expected - set(state))


def test_a_second_plan_is_empty(e2e: Deployment) -> None:
    step = e2e.step("replan")
    assert step.returncode == 0, (
        "the second plan is not empty (exit 2 = changes): either the stack does not converge or the emulator "
        "does not round-trip an attribute (then add it to tfstack.IGNORED_ATTRIBUTES with the reason)\n"
        + step.explain()
    )
