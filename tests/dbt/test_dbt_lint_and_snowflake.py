"""sqlfluff is clean, and the Snowflake target compiles (adapter.dispatch picks the snowflake__ macros)
against a fakesnow server: a real Snowflake wire protocol endpoint on 127.0.0.1, no cloud account."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import DBT, DBT_DIR


def test_sqlfluff_lint_clean(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(DBT_DIR / ".venv/bin/sqlfluff"), "lint", "models", "tests", "--disable-progress-bar"],
        check=False,
        cwd=DBT_DIR,
        env={**os.environ, "DUCKDB_PATH": str(tmp_path / "lint.duckdb"), "DBT_TARGET": "local"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_snowflake_target_compiles(fakesnow_port: int, tmp_path: Path) -> None:
    # The project's dev/staging/prod outputs use key-pair auth; fakesnow takes any password, so the test
    # writes its own profile with the same adapter and settings, pointed at the local server.
    (tmp_path / "profiles.yml").write_text(
        f"""
sportscards:
  target: fakesnow
  outputs:
    fakesnow:
      type: snowflake
      account: fakesnow
      user: fake
      password: snow
      host: 127.0.0.1
      port: {fakesnow_port}
      protocol: http
      database: SPORTSCARDS
      schema: ANALYTICS
      warehouse: TRANSFORM_WH
      role: TRANSFORMER
      threads: 1
"""
    )
    proc = subprocess.run(
        [str(DBT), "compile", "--profiles-dir", str(tmp_path), "--project-dir", str(DBT_DIR)],
        check=False,
        cwd=DBT_DIR,
        env={
            **os.environ,
            "DBT_TARGET_PATH": str(tmp_path / "target"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:]
    compiled = tmp_path / "target/compiled/sportscards/models"
    lines = (compiled / "staging/stg_events__order_lines.sql").read_text()
    assert "lateral flatten(input => orders.payload:lines)" in lines
    assert "line.value:unit_price::varchar" in lines
    assert "convert_timezone('UTC'" in (compiled / "marts/fct_orders.sql").read_text()
    assert "generator(rowcount => 73050)" in (compiled / "marts/dim_date.sql").read_text()
