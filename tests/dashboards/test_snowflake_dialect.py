"""The cloud's rendering of the page queries returns what the local one does: every query, rendered for
Snowflake, runs through fakesnow (Snowflake SQL transpiled by sqlglot, on a copy of the test warehouse) and
gives the same rows as its DuckDB rendering on DuckDB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import HERE, ROOT, Marts

sys.path.insert(0, str(ROOT / "dashboards"))

from dashgen import queries
from fakesnow_run import plain

DBT_PYTHON = ROOT / "dbt/.venv/bin/python"


def test_snowflake_rendering_gives_the_same_rows(warehouse: Any, marts: Marts, tmp_path: Path) -> None:
    shutil.copy(warehouse.db_path, tmp_path / "SPORTSCARDS.db")  # fakesnow: database SPORTSCARDS = that file
    proc = subprocess.run(
        [str(DBT_PYTHON), str(HERE / "fakesnow_run.py"), str(tmp_path), str(ROOT / "dashboards")],
        env={**os.environ, "TZ": "UTC"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    snowflake = json.loads(proc.stdout)
    assert set(snowflake) == set(queries.names())
    for name in queries.names():
        local = [[plain(v) for v in row] for row in marts.execute(queries.sql(name, "duckdb")).fetchall()]
        assert local, f"{name}: no rows to compare"
        assert snowflake[name] == local, name
