"""The required-reviewers gate of staging/prod deploys (infra/scripts/github_environment_check.py): the
decision on GitHub's API answers, and the script end to end against a local HTTP server speaking that API."""

from __future__ import annotations

import http.server
import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from conftest import REPO

SCRIPT = REPO / "infra" / "scripts" / "github_environment_check.py"
_spec = importlib.util.spec_from_file_location("github_environment_check", SCRIPT)
assert _spec and _spec.loader
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

REVIEWERS = {
    "id": 1,
    "node_id": "GA_1",
    "type": "required_reviewers",
    "prevent_self_review": True,
    "reviewers": [{"type": "Team", "reviewer": {"slug": "data-platform"}}],
}
BRANCHES = {"id": 2, "node_id": "GA_2", "type": "branch_policy"}
WAIT = {"id": 3, "node_id": "GA_3", "type": "wait_timer", "wait_timer": 5}


def _env(name: str, *rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": 9, "name": name, "protection_rules": list(rules), **extra}


def test_required_reviewers_pass() -> None:
    assert check.protection_problems(_env("prod", BRANCHES, REVIEWERS)) == []


@pytest.mark.parametrize(
    "environment",
    [
        _env("prod"),  # what GitHub creates for an unknown name
        {"id": 9, "name": "prod", "protection_rules": None},
        _env("prod", BRANCHES, WAIT),  # a wait timer is not a review
        _env("prod", {**REVIEWERS, "reviewers": []}),
    ],
)
def test_anything_without_a_reviewer_fails(environment: dict[str, Any]) -> None:
    problems = check.protection_problems(environment)
    assert problems and "prod" in problems[0]


def test_weak_settings_are_warned_about() -> None:
    assert check.warnings(_env("prod", REVIEWERS, deployment_branch_policy=None, can_admins_bypass=True)) == [
        "no deployment branch policy: any branch can request this environment (set it to main)",
        "administrators can bypass the required reviewers",
    ]
    assert (
        check.warnings(
            _env(
                "prod",
                REVIEWERS,
                deployment_branch_policy={"protected_branches": True},
                can_admins_bypass=False,
            )
        )
        == []
    )


class _Api(http.server.BaseHTTPRequestHandler):
    environments: ClassVar[dict[str, dict[str, Any]]] = {}
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        name = self.path.rsplit("/", 1)[-1]
        body = self.environments.get(name)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {"message": "Not Found"}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    _Api.environments = {
        "prod": _env(
            "prod", REVIEWERS, deployment_branch_policy={"protected_branches": True}, can_admins_bypass=False
        ),
        "staging": _env("staging", BRANCHES),
    }
    _Api.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run(api: str, environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--environment", environment],
        env={
            "GITHUB_API_URL": api,
            "GITHUB_REPOSITORY": "sportscards/platform",
            "GH_TOKEN": "ghs_test",
            "PATH": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_script_passes_a_protected_environment(api: str) -> None:
    proc = _run(api, "prod")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _Api.seen == [("/repos/sportscards/platform/environments/prod", "Bearer ghs_test")]


def test_script_fails_an_unprotected_environment(api: str) -> None:
    proc = _run(api, "staging")
    assert proc.returncode == 1
    assert "::error::environment 'staging' has no required reviewers" in proc.stdout


def test_script_fails_a_missing_environment(api: str) -> None:
    proc = _run(api, "prodd")
    assert proc.returncode != 0 and "does not exist" in proc.stderr
