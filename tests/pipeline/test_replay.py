"""`cardpipe replay`: RAW rebuilt from bronze, behind a confirmation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from cardpipe.bronze.store import open_store
from cardpipe.config import BronzeSettings
from cardpipe.load import run_load, run_replay

from .test_load_duckdb import assert_consistent, settings_for, table_counts, write_dataset


@pytest.mark.integration
def test_replay_rebuilds_raw_exactly_from_bronze(bronze_settings: BronzeSettings, tmp_path: Path) -> None:
    written = write_dataset(open_store(bronze_settings), files=3)
    settings = settings_for(bronze_settings, tmp_path)
    run_load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path)) as conn:
        # RAW drifted from bronze (a hand edit, an old loader's bug): replay must not keep any of it.
        conn.execute("DELETE FROM raw.events WHERE event_id IN (SELECT event_id FROM raw.events LIMIT 5)")
        conn.execute("UPDATE raw.quarantine SET reason = 'stale'")
        conn.execute("CREATE TABLE raw.leftover AS SELECT 1 AS x")  # not ours: must survive

    result = run_replay(settings)
    assert result.files_loaded == len(written)
    assert table_counts(settings) == written
    assert assert_consistent(settings) == written
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT reason FROM raw.quarantine").fetchall() == [("undecodable",)]
        assert conn.execute("SELECT x FROM raw.leftover").fetchall() == [(1,)]
        assert conn.execute("SELECT version FROM raw.schema_migrations").fetchall() == [(1,)]
    assert run_load(settings).files_loaded == 0  # the audit is complete again


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    cardpipe = Path(sys.executable).with_name("cardpipe")
    return subprocess.run(
        [cardpipe, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.integration
def test_replay_cli_asks_before_dropping(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    written = write_dataset(open_store(local_bronze), files=2)
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path)) as conn:
        conn.execute("DELETE FROM raw.events")
    env = os.environ | {
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(local_bronze.dir),
        "WAREHOUSE_KIND": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(settings.warehouse.duckdb_path),
        "CARDPIPE_LOG_FORMAT": "json",
    }

    declined = _cli(["replay"], env, stdin="n\n")
    assert declined.returncode == 1 and "Aborted" in declined.stderr
    assert sum(table_counts(settings).values()) == sum(written.values()) - 25  # untouched

    confirmed = _cli(["replay"], env, stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert table_counts(settings) == written

    unattended = _cli(["replay", "--yes"], env)
    assert unattended.returncode == 0, unattended.stderr
    assert f"replayed {len(written)} file(s)" in unattended.stdout
    assert table_counts(settings) == written
