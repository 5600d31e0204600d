"""sqlfluff is clean, and the Snowflake target compiles (adapter.dispatch picks the snowflake__ macros)
against a fakesnow server: a real Snowflake wire protocol endpoint on 127.0.0.1, no cloud account."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from cardpipe.contracts import names
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
      query_tag: sportscards-dbt
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
    _assert_snowflake_configs(json.loads((tmp_path / "target/manifest.json").read_text()))


def _assert_snowflake_configs(manifest: dict[str, Any]) -> None:
    """What the Snowflake target parses from _orders.yml and dbt_project.yml (docs/dbt.md, "Snowflake
    configs"): fct_orders clustered by order_date and without incremental_predicates (none is safe:
    test_fct_orders_incremental_predicates), exactly the heavy marts on names.TRANSFORM_LARGE_WAREHOUSE,
    and the project's set_query_tag/unset_query_tag for the Snowflake adapter."""
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    fct_orders = models["fct_orders"]["config"]
    assert fct_orders["cluster_by"] == ["order_date"]
    assert fct_orders["incremental_strategy"] == "delete+insert" and fct_orders["unique_key"] == "order_id"
    assert fct_orders.get("incremental_predicates") is None
    assert {m for m, n in models.items() if n["config"].get("cluster_by")} == {"fct_orders"}
    routed = {m: n["config"].get("snowflake_warehouse") for m, n in models.items()}
    assert {m: w for m, w in routed.items() if w} == dict.fromkeys(
        ("fct_orders", "fct_daily_demand"), names.TRANSFORM_LARGE_WAREHOUSE
    )
    for macro in ("snowflake__set_query_tag", "snowflake__unset_query_tag"):
        assert f"macro.sportscards.{macro}" in manifest["macros"], macro
    tag = manifest["macros"]["macro.sportscards.sportscards_query_tag"]["macro_sql"]
    for field in ("project", "target", "unique_id", "invocation_id", "materialization", "is_incremental"):
        assert field in tag, field
