"""dashboards/ installs with `npm ci` from a complete, exactly pinned lock (as the root tooling does)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def test_dashboards_lock_is_complete_and_pinned(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: `make setup` installs the dashboards' node_modules with it")
    package = json.loads((DASHBOARDS / "package.json").read_text())
    for deps in (package.get("dependencies", {}), package.get("devDependencies", {})):
        for name, version in deps.items():
            assert version[0].isdigit(), f"{name}@{version}: pin an exact version"
    for name in ("package.json", "package-lock.json"):
        shutil.copy(DASHBOARDS / name, tmp_path / name)
    subprocess.run(
        [npm, "install", "--package-lock-only", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (tmp_path / "package-lock.json").read_bytes() == (DASHBOARDS / "package-lock.json").read_bytes()
