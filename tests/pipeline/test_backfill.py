"""`cardpipe backfill` against a real PostgreSQL journal and both bronze stores (local dir, moto S3)."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cardpipe.ingest.backfill.runner as backfill
import orjson
import psycopg2
import pytest
from cardpipe.bronze.store import BronzeStore, LocalStore, open_store
from cardpipe.cli import cli, main
from cardpipe.config import BronzeSettings, ConfigError, PostgresSettings, Settings, get_settings
from cardpipe.contracts.codec import encode_event
from cardpipe.errors import ServiceUnavailable
from cardpipe.ingest import (
    Checkpoint,
    Chunk,
    ChunkResult,
    Window,
    backfill_chunk,
    control_record_key,
    finish_backfill,
    plan_backfill,
    run_backfill,
)
from cardpipe.ingest.backfill_copy import SIGNATURE, CopyFormatError, iter_seq_body
from cardpipe.ingest.landing import PreparedBatch
from cardpipe.sources.journal import connect, ensure_schema
from click.testing import CliRunner
from google.protobuf.message import Message
from psycopg2.extras import execute_values
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- journal fixtures


@dataclass(frozen=True)
class Row:
    event_id: str | None
    event_type: str | None
    occurred_at: datetime | None
    body: bytes
    valid: bool
    reason: str | None = None


def _order(quantity: int = 2) -> orders_pb2.OrderPlaced:
    return orders_pb2.OrderPlaced(
        order_id=f"o-{uuid.uuid4().hex[:8]}",
        customer_id="c-1",
        channel=orders_pb2.SALES_CHANNEL_WEB,
        currency_code="USD",
        lines=[
            orders_pb2.OrderLine(
                line_number=1,
                sku="SKU-1",
                quantity=quantity,
                unit_price=Money(currency_code="USD", units=19, nanos=990_000_000),
            )
        ],
    )


def _payload(i: int) -> tuple[str, Message]:
    kind = i % 4
    if kind == 0:
        return "order_placed", _order()
    if kind == 1:
        return "order_status_changed", orders_pb2.OrderStatusChanged(
            order_id="o-1", status=orders_pb2.ORDER_STATUS_PAID
        )
    if kind == 2:
        return "batch_started", manufacturing_pb2.BatchStarted(
            batch_id=f"b-{i}", sku="SKU-1", facility="plant-1", planned_units=100
        )
    card = catalog_pb2.Card(
        sku=f"SKU-{i}",
        player_name="Player",
        team="Team",
        sport=catalog_pb2.SPORT_BASEBALL,
        set_name="Set",
        set_year=2024,
        parallel="base",
        is_rookie=True,
        list_price=Money(currency_code="USD", units=12, nanos=500_000_000),
    )
    return "card_created", catalog_pb2.CardCreated(card=card)


def valid_row(i: int, occurred_at: datetime) -> Row:
    event_type, payload = _payload(i)
    event_id = str(uuid.uuid4())
    body = encode_event(event_id=event_id, event_type=event_type, occurred_at=occurred_at, payload=payload)
    return Row(event_id, event_type, occurred_at, body, True)


def malformed_rows(occurred_at: datetime) -> list[Row]:
    """One journal row per quarantine reason the backfill must record (plus one without any metadata)."""
    wrong_id = str(uuid.uuid4())
    wrong = encode_event(
        event_id=wrong_id,
        event_type="order_placed",
        occurred_at=occurred_at,
        payload=orders_pb2.OrderStatusChanged(order_id="o", status=orders_pb2.ORDER_STATUS_PAID),
    )
    negative_id = str(uuid.uuid4())
    negative = encode_event(
        event_id=negative_id, event_type="order_placed", occurred_at=occurred_at, payload=_order(quantity=-3)
    )
    unknown_id = str(uuid.uuid4())
    unknown = encode_event(
        event_id=unknown_id,
        event_type="card_graded",
        occurred_at=occurred_at,
        payload=orders_pb2.OrderStatusChanged(order_id="o", status=orders_pb2.ORDER_STATUS_PAID),
        producer="grading-service",
        schema_version=1,
    )
    return [
        Row(None, None, occurred_at, b"\xff\x00garbage bytes", False, "undecodable"),
        Row(wrong_id, "order_placed", occurred_at, wrong, False, "wrong_message_type"),
        Row(negative_id, "order_placed", occurred_at, negative, False, "invalid_value"),
        Row(unknown_id, "card_graded", occurred_at, unknown, False, "unknown_event_type"),
    ]


def insert_rows(pg: PostgresSettings, rows: list[Row]) -> list[int]:
    conn = connect(pg)
    try:
        ensure_schema(conn, pg.journal_schema)
        with conn, conn.cursor() as cur:
            seqs = execute_values(
                cur,
                "INSERT INTO journal.events (event_id, event_type, occurred_at, producer, body) VALUES %s "
                "RETURNING seq",
                [(r.event_id, r.event_type, r.occurred_at, "test", r.body) for r in rows],
                page_size=1000,
                fetch=True,
            )
    finally:
        conn.close()
    return [s[0] for s in seqs]


def make_journal(pg: PostgresSettings, n_valid: int = 120) -> list[Row]:
    """Valid events spread over 6 hours, 5 duplicate rows, every kind of malformed row, a NULL occurred_at."""
    rows = [valid_row(i, T0 + timedelta(minutes=3 * i)) for i in range(n_valid)]
    rows[10:10] = malformed_rows(T0 + timedelta(hours=1))
    rows += rows[20:25]  # producer retries: the journal itself holds duplicates
    rows.append(Row(None, None, None, b"\x08\x96\x01 no occurred_at", False, "undecodable"))
    insert_rows(pg, rows)
    return rows


# --------------------------------------------------------------------------- bronze readers


def read_lines(store: BronzeStore, prefix: str) -> list[dict[str, Any]]:
    lines = []
    for key in store.list(prefix):
        for line in gzip.decompress(store.get(key)).splitlines():
            lines.append({**orjson.loads(line), "_key": key})
    return lines


def read_control(store: BronzeStore, window_id: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for line in gzip.decompress(store.get(control_record_key(window_id))).splitlines()
    ]


def snapshot(store: BronzeStore) -> dict[str, bytes]:
    """Every event and quarantine object of the backfill, by key."""
    keys = [*store.list("raw/events/source=backfill/"), *store.list("raw/quarantine/source=backfill/")]
    return {key: store.get(key) for key in keys}


def settings_for(pg: PostgresSettings, bronze: BronzeSettings, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, postgres=pg, bronze=bronze)


# --------------------------------------------------------------------------- tests


def test_backfill_lands_exactly_the_journal(
    pg_settings: PostgresSettings, bronze_settings: BronzeSettings, tmp_path: Path
) -> None:
    rows = make_journal(pg_settings)
    settings = settings_for(pg_settings, bronze_settings, tmp_path)
    result = run_backfill(settings, chunk_rows=40)

    store = open_store(bronze_settings)
    events = read_lines(store, "raw/events/source=backfill/")
    # Same ids with the same multiplicity: journal duplicates are kept (staging deduplicates).
    assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in rows if r.valid)
    quarantined = read_lines(store, "raw/quarantine/source=backfill/")
    assert Counter(q["reason"] for q in quarantined) == Counter(r.reason for r in rows if not r.valid)
    assert all(q["detail"] and f"reason={q['reason']}/" in str(q["_key"]) for q in quarantined)
    assert {q["event_id"] for q in quarantined if q["reason"] != "undecodable"} == {
        r.event_id for r in rows if not r.valid and r.reason != "undecodable"
    }

    # Lines follow the contract: partitioned by occurred_at, ingest metadata, original bytes.
    by_id = {r.event_id: r for r in rows if r.valid}
    seqs = set()
    for event in events:
        row = by_id[str(event["event_id"])]
        ingest = event["ingest"]
        assert isinstance(ingest, dict)
        assert ingest["source"] == "backfill" and ingest["window_id"] == "all"
        seqs.add(ingest["journal_seq"])
        assert event["event_type"] == row.event_type
        assert f"/event_type={row.event_type}/" in str(event["_key"])
        assert row.occurred_at is not None
        assert f"/dt={row.occurred_at:%Y-%m-%d}/hour={row.occurred_at:%H}/backfill-all-" in str(event["_key"])
        assert event["raw_b64"] and len(event["raw_b64"]) > 10
    assert len(seqs) == len(events)  # one line per journal row
    order = next(e for e in events if e["event_type"] == "order_placed")
    assert order["payload"]["lines"][0]["unit_price"] == "19.99"

    assert result.rows == len(rows)
    assert result.events == len(events)
    assert sum(result.quarantined.values()) == len(quarantined)

    control = read_control(store, "all")
    expected_rows = Counter(r.event_type for r in rows)
    expected_distinct = {
        t: len({r.event_id for r in rows if r.event_type == t and r.event_id}) for t in expected_rows
    }
    assert {c["event_type"]: c["journal_rows"] for c in control} == dict(expected_rows)
    assert {c["event_type"]: c["journal_distinct_event_ids"] for c in control} == expected_distinct
    assert all(c["window_id"] == "all" and c["since"] is None and c["until"] is None for c in control)
    checkpoint = Checkpoint.load(store, "all")
    assert checkpoint is not None and checkpoint.complete and checkpoint.chunk_rows == 40


def test_rerun_of_a_window_overwrites_with_identical_objects(
    pg_settings: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    make_journal(pg_settings, n_valid=60)
    settings = settings_for(pg_settings, local_bronze, tmp_path)
    first = run_backfill(settings, chunk_rows=25)
    store = open_store(local_bronze)
    before = snapshot(store)
    second = run_backfill(settings)  # chunk size comes from the window checkpoint
    assert snapshot(store) == before
    # Nothing changed in the journal: every chunk's landed count matches, nothing is written again.
    assert (second.chunks, second.skipped_chunks, second.rows) == (0, first.chunks, 0)
    assert second.ok and second.journal_rows == first.rows
    with pytest.raises(ConfigError, match="--chunk-rows 25"):
        run_backfill(settings, chunk_rows=30)
    assert snapshot(store) == before


def test_since_until_window(
    pg_settings: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    rows = make_journal(pg_settings)
    settings = settings_for(pg_settings, local_bronze, tmp_path)
    since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    result = run_backfill(settings, since, until, chunk_rows=30)
    assert result.window_id == "20260301T010000Z-20260301T030000Z"

    in_window = [r for r in rows if r.occurred_at is not None and since <= r.occurred_at < until]
    store = open_store(local_bronze)
    events = read_lines(store, "raw/events/source=backfill/")
    assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in in_window if r.valid)
    quarantined = read_lines(store, "raw/quarantine/source=backfill/")
    assert Counter(q["reason"] for q in quarantined) == Counter(r.reason for r in in_window if not r.valid)
    assert all(e["ingest"]["window_id"] == result.window_id for e in events)
    assert all(f"backfill-{result.window_id}-" in str(e["_key"]) for e in events)

    control = read_control(store, result.window_id)
    assert sum(c["journal_rows"] for c in control) == len(in_window)
    assert {c["since"] for c in control} == {"2026-03-01T01:00:00.000000Z"}
    assert {c["until"] for c in control} == {"2026-03-01T03:00:00.000000Z"}

    # The row without occurred_at belongs to the window of its recorded_at (now): after T0.
    open_ended = run_backfill(settings, since=T0)
    assert open_ended.window_id == "20260301T000000Z-end"
    assert open_ended.rows == len(rows)
    assert run_backfill(settings).rows == len(rows)


def test_failed_run_resumes_from_checkpoint_without_duplicates(
    pg_settings: PostgresSettings, s3_bronze: BronzeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = make_journal(pg_settings)
    settings = settings_for(pg_settings, s3_bronze, tmp_path)
    real = backfill.write_chunk
    calls = []

    def failing_write(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
        calls.append(chunk.chunk_no)
        if len(calls) == 3:
            real(store, chunk, PreparedBatch(dict(list(prepared.objects.items())[:1]), prepared.counts))
            raise OSError("injected: store went away after the first object")
        return real(store, chunk, prepared)

    monkeypatch.setattr(backfill, "write_chunk", failing_write)
    with pytest.raises(OSError, match="injected"):
        run_backfill(settings, chunk_rows=20)
    store = open_store(s3_bronze)
    checkpoint = Checkpoint.load(store, "all")
    assert checkpoint is not None and not checkpoint.complete and checkpoint.last_seq == 40
    assert not store.exists(control_record_key("all"))

    monkeypatch.setattr(backfill, "write_chunk", real)
    resumed = run_backfill(settings)
    assert resumed.skipped_chunks == 2
    events = read_lines(store, "raw/events/source=backfill/")
    assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in rows if r.valid)
    assert store.exists(control_record_key("all"))


def test_killed_cli_run_resumes_to_exactly_the_journal(pg_settings: PostgresSettings, tmp_path: Path) -> None:
    rows = make_journal(pg_settings, n_valid=200)
    bronze_dir = tmp_path / "bronze"
    env = {
        **os.environ,
        "POSTGRES_DSN": pg_settings.dsn,
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(bronze_dir),
        "CARDPIPE_LOG_FORMAT": "json",
    }
    checkpoint_file = bronze_dir / "raw/_checkpoints/backfill/all.json"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("cardpipe")), "backfill", "--chunk-rows", "4"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if checkpoint_file.exists() and json.loads(checkpoint_file.read_text())["last_seq"] > 0:
                break
            assert proc.poll() is None, "backfill exited before its first checkpoint"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    killed_at = json.loads(checkpoint_file.read_text())
    assert not killed_at["complete"] and killed_at["last_seq"] < len(rows)

    store = LocalStore(bronze_dir)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cardpipe")), "backfill"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    skipped = re.search(r"\((\d+) already done\)", result.stdout)
    assert skipped and int(skipped.group(1)) > 0, result.stdout  # resumed, not restarted
    events = read_lines(store, "raw/events/source=backfill/")
    assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in rows if r.valid)

    # The same objects a clean, uninterrupted run produces: no leftovers, no duplicates.
    clean = BronzeSettings(backend="local", dir=tmp_path / "clean")
    run_backfill(settings_for(pg_settings, clean, tmp_path), chunk_rows=4)
    assert sorted(snapshot(store)) == sorted(snapshot(open_store(clean)))
    # A SIGKILL in the middle of a write can orphan its hidden temp file (the rename never happened); it
    # must stay invisible to the store, so nothing downstream ever reads it.
    listed = set(store.list("raw/"))
    assert not [p for p in bronze_dir.rglob("*.tmp") if p.relative_to(bronze_dir).as_posix() in listed]


def test_airflow_api_chunks_are_serializable_and_idempotent(
    pg_settings: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    rows = make_journal(pg_settings)
    settings = settings_for(pg_settings, local_bronze, tmp_path)
    chunks = plan_backfill(settings, chunk_rows=50)
    assert [c.chunk_no for c in chunks] == [0, 1, 2]
    assert sum(c.planned_rows for c in chunks) == len(rows)
    assert plan_backfill(settings) == chunks  # reproducible: same ranges, same ingested_at
    wire = json.loads(json.dumps([c.to_dict() for c in chunks]))  # XCom round trip
    mapped = [Chunk.from_dict(c) for c in reversed(wire)]  # mapped tasks run in any order
    results = [backfill_chunk(settings, c) for c in mapped]
    backfill_chunk(settings, mapped[0])  # a retried task
    reconciliation = finish_backfill(settings, Window(), results=[r.to_dict() for r in results])
    assert reconciliation.ok, reconciliation.message
    lines = reconciliation.lines
    assert sum(r.rows for r in results) == sum(line["journal_rows"] for line in lines) == len(rows)

    store = open_store(local_bronze)
    events = read_lines(store, "raw/events/source=backfill/")
    assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in rows if r.valid)
    before = snapshot(store)
    assert run_backfill(settings).chunks == 0  # the mapped results are in the checkpoint: nothing left
    clean = BronzeSettings(backend="local", dir=tmp_path / "clean")
    run_backfill(settings_for(pg_settings, clean, tmp_path), chunk_rows=50)
    # the CLI path lands the same names (ingested_at differs per window checkpoint, so not the same bytes)
    assert sorted(snapshot(open_store(clean))) == sorted(before)


def test_two_worker_processes_land_the_same_objects(
    pg_settings: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    make_journal(pg_settings)
    settings = settings_for(pg_settings, local_bronze, tmp_path)
    run_backfill(settings, chunk_rows=30)
    store = open_store(local_bronze)
    before = snapshot(store)
    checkpoint = Checkpoint.load(store, "all")
    assert checkpoint is not None and checkpoint.chunks is not None
    checkpoint.chunks = {}  # forget what was landed: every chunk is landed again, by two processes
    checkpoint.save(store)
    result = run_backfill(settings, workers=2)
    assert result.chunks == 5 and result.ok
    assert snapshot(store) == before


def test_missing_journal_and_unreachable_postgres_fail_fast(
    pg_settings: PostgresSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    settings = settings_for(pg_settings, local_bronze, tmp_path)
    with pytest.raises(ConfigError, match="seed-journal"):
        run_backfill(settings)
    unreachable = settings_for(
        PostgresSettings(dsn="postgresql://postgres@127.0.0.1:1/none"), local_bronze, tmp_path
    )
    with pytest.raises(ServiceUnavailable, match="POSTGRES_DSN"):
        run_backfill(unreachable, chunk_rows=10)
    with pytest.raises(ConfigError, match="must be before"):
        Window(T0, T0)


def test_copy_parser_rejects_broken_streams() -> None:
    header = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
    row = b"\x00\x02" + b"\x00\x00\x00\x08" + (7).to_bytes(8, "big") + b"\x00\x00\x00\x03abc"
    trailer = b"\xff\xff"
    assert list(iter_seq_body(header + row + row + trailer)) == [(7, b"abc"), (7, b"abc")]
    with pytest.raises(CopyFormatError, match="signature"):
        list(iter_seq_body(b"PGCOPY\n\xff\r\n\x01" + header[11:] + trailer))
    with pytest.raises(CopyFormatError, match="truncated"):
        list(iter_seq_body(header + row[:-1]))
    with pytest.raises(CopyFormatError, match="truncated"):
        list(iter_seq_body(header + row))  # no trailer
    with pytest.raises(CopyFormatError, match="NULL"):
        list(iter_seq_body(header + row[:14] + b"\xff\xff\xff\xff" + trailer))


def test_copy_parser_reads_what_postgres_writes(pg_settings: PostgresSettings) -> None:
    bodies = [b"", b"\x00\xff" * 1000, os.urandom(70_000)]
    insert_rows(pg_settings, [Row(None, None, None, body, False) for body in bodies])
    conn = psycopg2.connect(pg_settings.dsn)
    try:
        buffer = io.BytesIO()
        with conn.cursor() as cur:
            cur.copy_expert(
                "COPY (SELECT seq, body FROM journal.events ORDER BY seq) TO STDOUT (FORMAT binary)", buffer
            )
    finally:
        conn.close()
    assert list(iter_seq_body(buffer.getvalue())) == [(1, bodies[0]), (2, bodies[1]), (3, bodies[2])]


def test_cli_window_options_and_bad_input(
    pg_settings: PostgresSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = make_journal(pg_settings, n_valid=40)
    monkeypatch.setenv("POSTGRES_DSN", pg_settings.dsn)
    monkeypatch.setenv("BRONZE_BACKEND", "local")
    monkeypatch.setenv("BRONZE_DIR", str(tmp_path / "bronze"))
    monkeypatch.setenv("CARDPIPE_LOG_FORMAT", "json")
    get_settings.cache_clear()
    try:
        outcome = CliRunner().invoke(
            cli, ["backfill", "--since", "2026-03-01T00:30:00", "--until", "2026-03-01T01:30:00+00:00"]
        )
        assert outcome.exit_code == 0, outcome.output
        window = "20260301T003000Z-20260301T013000Z"
        assert f"backfill {window}:" in outcome.output
        start, end = T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)
        expected = [r for r in rows if r.valid and r.occurred_at and start <= r.occurred_at < end]
        events = read_lines(LocalStore(tmp_path / "bronze"), "raw/events/source=backfill/")
        assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in expected)

        with pytest.raises(SystemExit) as exited:
            main(["backfill", "--since", "yesterday"])
        assert exited.value.code == 2
        assert "not an ISO 8601 timestamp" in capsys.readouterr().err
        main(["backfill", "--chunk-rows", "7"])  # the unbounded window is new: any size is fine (no exit)
        with pytest.raises(SystemExit) as exited:
            main(["backfill", "--chunk-rows", "8"])  # ...but it is then pinned
        assert exited.value.code == 2
        assert "--chunk-rows 7" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
