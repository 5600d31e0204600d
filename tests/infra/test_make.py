"""Make targets that must behave without credentials: prod guards, what each target runs and in which order.

plan/apply/destroy/bootstrap with real terraform: tests/deploy/test_terraform_driver.py (make test-deploy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_destroy_prod_refuses_without_confirmation() -> None:
    proc = _make("destroy", "ENV=prod", "TERRAFORM=false")
    assert proc.returncode != 0
    assert "refusing to destroy prod" in proc.stdout
    assert "main.py" not in proc.stdout  # refused before synthesizing or calling terraform


def test_destroy_guard_lets_other_environments_through() -> None:
    proc = _make("destroy-guard", "ENV=dev")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_apply_prod_refuses_without_confirmation() -> None:
    for target in ("apply", "bootstrap"):
        proc = _make(target, "ENV=prod", "TERRAFORM=false")
        assert proc.returncode != 0, target
        assert "refusing to apply prod" in proc.stdout and "CONFIRM=apply-prod" in proc.stdout
        assert "tf.py" not in proc.stdout and "bootstrap_account.py" not in proc.stdout


def test_plan_builds_then_saves_plans_through_the_driver() -> None:
    out = _make("-n", "plan", "ENV=dev").stdout
    synth = out.index("main.py")
    plan = out.index("infra/scripts/tf.py --env dev")
    assert synth < plan
    assert "uv build --wheel" in out[:plan]  # lambda-package before the plan that reads the zip
    assert (
        "plan --input infra/build/lambda/cardpipe-ingest.zip --input airflow/build/mwaa/dev" in out[plan:]
    )  # applying after either changed would apply something nobody planned


def test_apply_applies_saved_plans_without_resynthesizing() -> None:
    out = _make("-n", "apply", "ENV=dev").stdout
    assert "main.py" not in out and "uv build" not in out  # a re-synth after review would change the stacks
    assert "infra/scripts/tf.py --env dev" in out and ' apply --confirm ""' in out
    assert "-auto-approve" not in out


def test_bootstrap_runs_the_account_then_each_stack_in_turn() -> None:
    out = _make("-n", "bootstrap", "ENV=dev").stdout
    account = out.index("infra/scripts/bootstrap_account.py --env dev")
    assert account < out.index("main.py")
    loop = out[out.index(" order)") :]
    assert loop.index("plan --only $stack") < loop.index("apply --confirm")


def test_apply_order_snowflake_before_aws() -> None:
    out = subprocess.run(
        [sys.executable, "main.py", "--order"],
        cwd=ROOT / "infra",
        env={"ENV": "staging", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == ["sportscards-staging-snowflake", "sportscards-staging-aws"]


def test_driver_uses_the_same_order_as_main() -> None:
    for env in ("dev", "staging", "prod"):
        driver = subprocess.run(
            [sys.executable, "infra/scripts/tf.py", "--env", env, "order"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        main = subprocess.run(
            [sys.executable, "main.py", "--order"],
            cwd=ROOT / "infra",
            env={"ENV": env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert driver == main


def test_help_lists_the_deploy_targets() -> None:
    out = _make("help").stdout
    for target in ("bootstrap", "bootstrap-account", "plan", "apply", "destroy"):
        assert f"  {target} " in out, target
