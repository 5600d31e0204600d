"""Make targets that must behave without credentials: the prod destroy guard and the apply order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_destroy_prod_refuses_without_confirmation() -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "destroy", "ENV=prod", "TERRAFORM=false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "refusing to destroy prod" in proc.stdout
    assert "main.py" not in proc.stdout  # refused before synthesizing or calling terraform


def test_destroy_guard_lets_other_environments_through() -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "destroy-guard", "ENV=dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


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
