"""Chaos suite: the harness and tests/support are imported by path (tests/ is not a package); the rows of
the short run are printed as the chaos table at the end of the session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    test_chaos = sys.modules.get("test_chaos")
    rows = getattr(test_chaos, "ROWS", [])
    if not rows:
        return
    from harness import markdown  # noqa: PLC0415 - the harness is on sys.path only after this conftest ran

    terminalreporter.write_sep("=", "chaos table (short run)")
    terminalreporter.write(markdown(rows, {}))
