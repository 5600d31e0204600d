"""Backfill exactly-once guarantees against the real PostgreSQL: late commits, producers writing during a run,
NULL occurred_at rows, old checkpoints, and RAW after a re-run (through `cardpipe load`, DuckDB)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cardpipe.ingest.backfill.runner as runner
import duckdb
import orjson
import pytest
from cardpipe.bronze.store import BronzeStore, LocalStore, open_store
from cardpipe.cli import cli
from cardpipe.config import BronzeSettings, PostgresSettings, Settings, WarehouseSettings, get_settings
from cardpipe.ingest import Checkpoint, Chunk, ChunkResult, run_backfill
from cardpipe.ingest.landing import PreparedBatch
from cardpipe.load import run_load
from cardpipe.sources.journal import connect, ensure_schema
from click.testing import CliRunner
from psycopg2.extensions import connection
from psycopg2.extras import execute_values

from .test_backfill import T0, Row, make_journal, read_control, read_lines, settings_for, valid_row

pytestmark = pytest.mark.integration


def _insert(pg: PostgresSettings, rows: list[Row]) -> None:
    """Plain committed inserts (no DDL: ensure_schema would wait on the open Late transaction's lock)."""
    conn = connect(pg)
    try:
        with conn, conn.cursor() as cur:
            execute_values(
                cur,
                "INSERT INTO journal.events (event_id, event_type, occurred_at, producer, body) VALUES %s",
                [(r.event_id, r.event_type, r.occurred_at, "test", r.body) for r in rows],
            )
    finally:
        conn.close()


def _rows(start: int, n: int) -> list[Row]:
    return [valid_row(start + i, T0 + timedelta(minutes=i)) for i in range(n)]


class Late:
    """Rows inserted in an open transaction: their seqs are taken now, they become visible on commit."""

    def __init__(self, pg: PostgresSettings, rows: list[Row]) -> None:
        self.rows = rows
        self.conn: connection = connect(pg)
        with self.conn.cursor() as cur:
            self.seqs = [
                s[0]
                for s in execute_values(
                    cur,
                    "INSERT INTO journal.events (event_id, event_type, occurred_at, producer, body) "
                    "VALUES %s RETURNING seq",
                    [(r.event_id, r.event_type, r.occurred_at, "late", r.body) for r in rows],
                    fetch=True,
                )
            ]

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()


@pytest.fixture
def journal(pg_settings: PostgresSettings) -> Iterator[PostgresSettings]:
    conn = connect(pg_settings)
    try:
        ensure_schema(conn, pg_settings.journal_schema)
    finally:
        conn.close()
    yield pg_settings


def _event_ids(store: BronzeStore) -> Counter[str]:
    return Counter(str(e["event_id"]) for e in read_lines(store, "raw/events/source=backfill/"))


def test_resume_relands_a_chunk_below_the_checkpoint_that_got_late_rows(
    journal: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code: a resume skipped every chunk at or below last_seq, so rows committed late there were lost."""
    _insert(journal, _rows(0, 5))
    late = Late(journal, _rows(100, 3))  # seqs 6..8 taken, not yet visible (a slow transaction)
    committed = _rows(200, 40)
    _insert(journal, committed)
    settings = settings_for(journal, local_bronze, tmp_path)
    real = runner.write_chunk

    def failing(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
        if chunk.chunk_no == 2:
            raise OSError("injected: killed after two chunks")
        return real(store, chunk, prepared)

    monkeypatch.setattr(runner, "write_chunk", failing)
    with pytest.raises(OSError, match="injected"):
        run_backfill(settings, chunk_rows=10)
    store = open_store(local_bronze)
    checkpoint = Checkpoint.load(store, "all")
    assert checkpoint is not None and checkpoint.last_seq == 20 and checkpoint.chunks == {"0": 7, "1": 10}

    late.commit()  # now visible, inside chunk 0, below the checkpoint
    monkeypatch.setattr(runner, "write_chunk", real)
    resumed = run_backfill(settings)
    assert resumed.ok, resumed.reconciliation
    assert resumed.skipped_chunks == 1  # chunk 1 unchanged; chunk 0 landed again with the late rows
    ids = _event_ids(store)
    assert all(ids[str(r.event_id)] == 1 for r in [*committed, *late.rows])
    assert sum(ids.values()) == 5 + 3 + 40


def test_rows_committed_during_the_run_fail_it_with_what_to_do(
    journal: PostgresSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Old code: the mismatch only logged a warning (and only when no chunk was skipped); the CLI exited 0."""
    _insert(journal, _rows(0, 4))
    late = Late(journal, _rows(100, 2))  # seqs 5, 6
    _insert(journal, _rows(200, 20))  # seqs 7..26
    real = runner.write_chunk

    def commit_after_last_chunk(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
        result = real(store, chunk, prepared)
        if chunk.chunk_no == 2 and late.conn.closed == 0:
            late.commit()  # below seqs already read, before the reconciliation
        return result

    monkeypatch.setattr(runner, "write_chunk", commit_after_last_chunk)
    monkeypatch.setenv("POSTGRES_DSN", journal.dsn)
    monkeypatch.setenv("BRONZE_BACKEND", "local")
    monkeypatch.setenv("BRONZE_DIR", str(tmp_path / "bronze"))
    monkeypatch.setenv("CARDPIPE_LOG_FORMAT", "json")
    get_settings.cache_clear()
    try:
        failed = CliRunner().invoke(cli, ["backfill", "--chunk-rows", "10"])
        assert failed.exit_code == 4, failed.output
        assert (
            "Re-run the same window" in failed.output and "chunks 0 (landed 8, journal 10)" in failed.output
        )
        store = LocalStore(tmp_path / "bronze")
        checkpoint = Checkpoint.load(store, "all")
        assert checkpoint is not None and not checkpoint.complete
        again = CliRunner().invoke(cli, ["backfill"])
        assert again.exit_code == 0, again.output
        assert "2 already done" in again.output  # only chunk 0 landed again
    finally:
        get_settings.cache_clear()
    assert sum(_event_ids(store).values()) == 26
    assert sum(c["journal_rows"] for c in read_control(store, "all")) == 26


def test_control_counts_are_bounded_by_the_plans_max_seq(
    journal: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code: producers writing while a window ran made its control counts exceed what was landed."""
    _insert(journal, _rows(0, 30))
    real = runner.write_chunk

    def producer_writes(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
        _insert(journal, _rows(1000 + chunk.chunk_no * 10, 5))  # committed, above the planned max seq
        return real(store, chunk, prepared)

    monkeypatch.setattr(runner, "write_chunk", producer_writes)
    result = run_backfill(settings_for(journal, local_bronze, tmp_path), chunk_rows=10)
    assert result.ok, result.reconciliation
    assert result.rows == 30 == result.journal_rows
    control = read_control(open_store(local_bronze), "all")
    assert sum(c["journal_rows"] for c in control) == 30
    assert {c["max_seq"] for c in control} == {30}
    # The next run takes the rows written meanwhile, exactly once.
    monkeypatch.setattr(runner, "write_chunk", real)
    assert run_backfill(settings_for(journal, local_bronze, tmp_path)).ok
    assert sum(_event_ids(open_store(local_bronze)).values()) == 45


def _insert_null_occurred_at(pg: PostgresSettings, recorded_at: datetime) -> None:
    conn = connect(pg)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO journal.events (event_id, event_type, occurred_at, producer, recorded_at, body) "
                "VALUES (NULL, NULL, NULL, 'test', %s, %s)",
                (recorded_at, b"\x08\x96\x01 no occurred_at"),
            )
    finally:
        conn.close()


def test_rows_without_occurred_at_belong_to_the_window_of_their_recorded_at(
    journal: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    """Old code: bounded windows never took them and their counts were invisible to reconciliation."""
    _insert(journal, _rows(0, 10))  # occurred_at T0 .. T0+9min
    _insert_null_occurred_at(journal, T0 + timedelta(hours=2))
    settings = settings_for(journal, local_bronze, tmp_path)
    first = run_backfill(settings, T0, T0 + timedelta(hours=1))
    second = run_backfill(settings, T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert (first.rows, second.rows) == (10, 1) and first.ok and second.ok
    store = open_store(local_bronze)
    control = read_control(store, second.window_id)
    assert [(c["event_type"], c["journal_rows"]) for c in control] == [(None, 1)]
    quarantined = read_lines(store, "raw/quarantine/source=backfill/")
    assert [q["ingest"]["window_id"] for q in quarantined] == [second.window_id]


def test_an_old_checkpoint_without_chunk_counts_relands_every_chunk(
    journal: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    rows = make_journal(journal, n_valid=30)
    settings = settings_for(journal, local_bronze, tmp_path)
    store = open_store(local_bronze)
    old = {
        "window_id": "all",
        "since": None,
        "until": None,
        "chunk_rows": 10,
        "ingested_at": "2026-03-02T00:00:00.000000Z",
        "last_seq": 40,
        "complete": True,
    }
    store.put(Checkpoint.key("all"), orjson.dumps(old))
    result = run_backfill(settings)
    assert result.ok and result.skipped_chunks == 0 and result.rows == len(rows)
    checkpoint = Checkpoint.load(store, "all")
    assert (
        checkpoint is not None
        and checkpoint.chunk_rows == 10
        and checkpoint.ingested_at == old["ingested_at"]
    )
    assert (
        checkpoint.complete and checkpoint.chunks is not None and sum(checkpoint.chunks.values()) == len(rows)
    )


def _raw(settings: Settings) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as db:
        return db.execute("SELECT event_id, count(*) FROM raw.events GROUP BY 1 ORDER BY 1").fetchall()


def test_rerun_after_late_rows_reaches_raw_exactly_once(
    journal: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    """The issue's first defect end to end: backfill, load, late rows, re-run, load: every row once in RAW."""
    first, rest = _rows(0, 6), _rows(200, 30)
    _insert(journal, first)
    late = Late(journal, _rows(100, 4))
    _insert(journal, rest)
    settings = Settings(
        data_dir=tmp_path,
        postgres=journal,
        bronze=local_bronze,
        warehouse=WarehouseSettings(duckdb_path=tmp_path / "warehouse.duckdb"),
    )
    assert run_backfill(settings, chunk_rows=8).ok
    run_load(settings)
    assert sum(n for _, n in _raw(settings)) == 36

    late.commit()
    store = open_store(local_bronze)
    before = {k: store.get(k) for k in store.list("raw/events/source=backfill/")}
    rerun = run_backfill(settings)
    assert rerun.ok and rerun.chunks == 2  # chunks 0 and 1 hold the late seqs 7..10
    after = {k: store.get(k) for k in store.list("raw/events/source=backfill/")}
    assert before.keys() <= after.keys()  # the same deterministic names, overwritten with more lines
    run_load(settings)
    raw = _raw(settings)
    assert len(raw) == 40 and all(n == 1 for _, n in raw)  # every journal row once, none twice
    assert {str(i) for i, _ in raw} == {str(r.event_id) for r in [*first, *late.rows, *rest]}
