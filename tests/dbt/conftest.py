"""dbt suite fixtures: a temp DuckDB with the loader's RAW schema; dbt runs from dbt/.venv as a subprocess;
a fakesnow server (Snowflake's wire protocol on 127.0.0.1) for the Snowflake target."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1]))  # tests/: the shared `support` helpers

from raw_fixture import ROOT, RawWriter

DBT_DIR = ROOT / "dbt"
DBT = DBT_DIR / ".venv/bin/dbt"
DBT_PYTHON = DBT_DIR / ".venv/bin/python"


@dataclass
class DbtProject:
    """One private warehouse file and target directory, so parallel runs never share state."""

    db_path: Path
    work: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DUCKDB_PATH": str(self.db_path),
            "DBT_TARGET": "local",
            "DBT_LOG_PATH": str(self.work / "logs"),
            "DBT_TARGET_PATH": str(self.work / "target"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        proc = subprocess.run(
            [str(DBT), *args, "--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR)],
            check=False,
            cwd=DBT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"dbt {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr}"
            )
        return proc

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def snapshot(self, table: str, order_by: str) -> list[tuple[Any, ...]]:
        return self.query(f"select * from {table} order by {order_by}")


MARTS = {
    "marts.fct_orders": "order_id, line_number",
    "marts.dim_card": "sku, valid_from",
    "marts.dim_customer": "customer_id",
    "marts.dim_date": "date_day",
    "marts.fct_batch_performance": "batch_id",
    "marts.fct_daily_demand": "order_date, sku, player_name, team",
}


def snapshot_marts(project: DbtProject) -> dict[str, list[tuple[Any, ...]]]:
    return {table: project.snapshot(table, order) for table, order in MARTS.items()}


@pytest.fixture(scope="module")
def dbt_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    if not DBT.exists():
        pytest.fail("dbt/.venv is missing: run `make dbt-setup` first")
    work = tmp_path_factory.mktemp("dbt")
    yield DbtProject(db_path=work / "warehouse.duckdb", work=work)


@pytest.fixture(scope="module")
def raw_writer(dbt_project: DbtProject) -> RawWriter:
    writer = RawWriter(dbt_project.db_path)
    writer.create_schema()
    return writer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private fakesnow server per module: its in-memory warehouse is shared by every connection to it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(DBT_PYTHON),
                "-m",
                "uvicorn",
                "fakesnow.server:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    "fakesnow server did not start (is dbt/.venv synced with the dev group?):\n"
                    + log.read_text()[-3000:]
                )
            time.sleep(0.5)
    yield port
    proc.terminate()
    proc.wait(timeout=30)
