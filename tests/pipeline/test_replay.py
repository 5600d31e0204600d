"""`cardpipe replay`: RAW rebuilt from bronze, behind a confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cardpipe.bronze.store import open_store
from cardpipe.commands.replay import command as replay_command
from cardpipe.config import BronzeSettings, Settings, get_settings
from cardpipe.load import run_load, run_replay
from click.testing import CliRunner

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
        assert conn.execute("SELECT version FROM raw.schema_migrations ORDER BY 1").fetchall() == [(1,), (2,)]
    assert run_load(settings).files_loaded == 0  # the audit is complete again


@pytest.fixture
def cli_env(
    local_bronze: BronzeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The CLI's settings come from the environment (and are cached): point them at this test's files."""
    settings = settings_for(local_bronze, tmp_path)
    monkeypatch.setenv("BRONZE_BACKEND", "local")
    monkeypatch.setenv("BRONZE_DIR", str(local_bronze.dir))
    monkeypatch.setenv("WAREHOUSE_KIND", "duckdb")
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(settings.warehouse.duckdb_path))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


@pytest.mark.integration
def test_replay_cli_asks_before_dropping(local_bronze: BronzeSettings, cli_env: Settings) -> None:
    settings = cli_env
    written = write_dataset(open_store(local_bronze), files=2)
    run_load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path)) as conn:
        conn.execute("DELETE FROM raw.events")
    runner = CliRunner()

    declined = runner.invoke(replay_command, [], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert sum(table_counts(settings).values()) == sum(written.values()) - 25  # untouched

    confirmed = runner.invoke(replay_command, [], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert table_counts(settings) == written

    unattended = runner.invoke(replay_command, ["--yes"])
    assert unattended.exit_code == 0, unattended.output
    assert f"replayed {len(written)} file(s)" in unattended.output
    assert table_counts(settings) == written
