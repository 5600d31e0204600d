"""`make setup` must not modify tracked files: the committed npm lock is complete, so npm has nothing to add.

npm records only the optional platform binaries it resolved; a lock written on one machine lacked the other
platforms' `@bufbuild/buf-*` entries and `npm install` rewrote it on every setup. Setup now runs `npm ci`
(which refuses an inconsistent lock); this test asks npm to complete the lock and requires it unchanged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_npm_lock_is_complete(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: `make setup` installs node tools with it")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    subprocess.run(
        [npm, "install", "--package-lock-only", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    before = json.loads((ROOT / "package-lock.json").read_text())
    after = json.loads((tmp_path / "package-lock.json").read_text())
    added = sorted(set(after["packages"]) - set(before["packages"]))
    assert added == [], f"npm adds {added} to package-lock.json: commit the lock `npm install` writes"
    assert (tmp_path / "package-lock.json").read_bytes() == (ROOT / "package-lock.json").read_bytes()
