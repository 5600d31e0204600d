"""`cardpipe load` into DuckDB against real bronze files (local directory and a moto S3 server)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cardpipe.bronze.layout import control_key, events_key, quarantine_key
from cardpipe.bronze.store import BronzeStore, StoredObject, open_store
from cardpipe.config import BronzeSettings, Settings, WarehouseSettings
from cardpipe.contracts.codec import DecodedEvent, Rejection, decode, encode_event, format_ts
from cardpipe.errors import ServiceUnavailable
from cardpipe.load import LoadError, migrations, run_load
from cardpipe.load.plan import AuditEntry, BronzeFile, batches, kind_of, plan_load
from sportscards.common.v1.money_pb2 import Money
from sportscards.orders.v1 import orders_pb2

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0_US = T0 + timedelta(microseconds=123456)  # ingestion time with microseconds
NS = uuid.UUID("6f1c1f8e-0000-4000-8000-000000000000")


# --------------------------------------------------------------------------- bronze test data


def event_record(i: int, *, source: str = "backfill", ingested_at: datetime = T0_US) -> dict[str, Any]:
    """A valid bronze event line, built exactly as ingestion does (codec view + raw_b64 + ingest)."""
    occurred = T0 + timedelta(minutes=i % 90, microseconds=7)
    body = encode_event(
        event_id=str(uuid.uuid5(NS, str(i))),
        event_type="order_placed",
        occurred_at=occurred,
        payload=orders_pb2.OrderPlaced(
            order_id=f"O-{i}",
            customer_id=f"C-{i % 7}",
            channel=orders_pb2.SALES_CHANNEL_WEB,
            currency_code="USD",
            lines=[
                orders_pb2.OrderLine(
                    line_number=1,
                    sku="SKU-1",
                    quantity=2,
                    unit_price=Money(currency_code="USD", units=19, nanos=990_000_000),
                )
            ],
        ),
    )
    decoded = decode(body)
    assert isinstance(decoded, DecodedEvent)
    record = decoded.to_record()
    record["raw_b64"] = base64.b64encode(body).decode()
    ingest: dict[str, Any] = {"source": source, "ingested_at": format_ts(ingested_at)}
    ingest |= {"journal_seq": i, "window_id": "w1"} if source == "backfill" else {"redelivered": False}
    record["ingest"] = ingest
    return record


def quarantine_record(i: int) -> dict[str, Any]:
    body = b"\xff\x00not-an-envelope-" + str(i).encode()
    rejection = decode(body)
    assert isinstance(rejection, Rejection)
    return {
        "reason": str(rejection.reason),
        "detail": rejection.detail,
        "event_id": rejection.event_id,
        "event_type": rejection.event_type,
        "raw_b64": base64.b64encode(body).decode(),
        "ingest": {"source": "live", "ingested_at": format_ts(T0), "redelivered": True, "routing_key": "x"},
    }


def journal_counts_records(window_id: str, rows: int) -> list[dict[str, Any]]:
    return [
        {
            "window_id": window_id,
            "since": format_ts(T0),
            "until": format_ts(T0 + timedelta(hours=1)),
            "event_type": event_type,
            "journal_rows": rows,
            "journal_distinct_event_ids": rows - 1,
            "captured_at": format_ts(T0 + timedelta(hours=2)),
        }
        for event_type in ("order_placed", None)
    ]


def ndjson_gz(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))


def write_dataset(store: BronzeStore, files: int = 7, per_file: int = 12) -> dict[str, int]:
    """Event, quarantine and journal_counts objects (plus a checkpoint load must ignore): key -> lines."""
    written: dict[str, int] = {}
    n = 0
    for f in range(files):
        count = per_file + f  # uneven file sizes
        records = [event_record(n + j, source="live" if f % 2 else "backfill") for j in range(count)]
        n += count
        key = events_key(
            "live" if f % 2 else "backfill", "order_placed", T0 + timedelta(hours=f), f"chunk-{f}"
        )
        store.put(key, ndjson_gz(records))
        written[key] = count
    for f in range(2):
        key = quarantine_key("live", "undecodable", T0, f"live-q-{f}")
        store.put(key, ndjson_gz([quarantine_record(f * 10 + j) for j in range(3 + f)]))
        written[key] = 3 + f
    key = control_key("journal_counts", "w1.ndjson.gz")
    store.put(key, ndjson_gz(journal_counts_records("w1", 50)))
    written[key] = 2
    store.put("raw/_checkpoints/backfill/state.json", b'{"last_seq": 1}')
    return written


def settings_for(bronze: BronzeSettings, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, bronze=bronze, warehouse=WarehouseSettings(duckdb_path=tmp_path / "wh.duckdb")
    )


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(sql).fetchall()


def table_counts(settings: Settings) -> dict[str, int]:
    rows = query(
        settings,
        "SELECT file_name, count(*) FROM (SELECT file_name FROM raw.events UNION ALL "
        "SELECT file_name FROM raw.quarantine UNION ALL SELECT file_name FROM raw.journal_counts) GROUP BY 1",
    )
    return {name: n for name, n in rows}


def assert_consistent(settings: Settings) -> dict[str, int]:
    """Every file with rows has an audit row with exactly that many rows, and vice versa."""
    audit = {name: n for name, n in query(settings, "SELECT file_name, rows FROM raw.load_audit")}
    actual = table_counts(settings)
    assert {k: v for k, v in audit.items() if v} == actual
    return audit


# --------------------------------------------------------------------------- pure planning


def test_kind_of_and_planning() -> None:
    assert kind_of("raw/events/source=live/event_type=x/dt=2026-03-01/hour=12/a.ndjson.gz") == "events"
    assert kind_of("raw/quarantine/source=live/reason=x/dt=2026-03-01/hour=12/a.ndjson.gz") == "quarantine"
    assert kind_of("raw/_control/journal_counts/w1.ndjson.gz") == "journal_counts"
    assert kind_of("raw/_checkpoints/backfill/state.json") is None
    assert kind_of("raw/events/source=live/x.json") is None
    keys = ["raw/events/a.ndjson.gz", "raw/events/b.ndjson.gz", "raw/_control/journal_counts/w.ndjson.gz"]
    listing = [StoredObject(k, 10, f"fp-{k}") for k in [*keys, "raw/_checkpoints/backfill/state.json"]]
    audit = {
        keys[0]: AuditEntry("sha256:aa", f"fp-{keys[0]}"),  # loaded, not rewritten since: skipped unread
        keys[2]: AuditEntry("sha256:cc", "fp-older"),  # rewritten since it was loaded: read and compared
    }
    plan = plan_load(listing, audit)
    assert [f.key for f in plan.new] == [keys[1]] and [f.key for f in plan.recheck] == [keys[2]]
    assert plan.recheck[0].previous == "sha256:cc" and plan.recheck[0].fingerprint == f"fp-{keys[2]}"
    assert plan.unchanged == 1 and plan.adopt == []
    # A row from before fingerprints: adopted without reading when its md5 is still the object's ETag.
    legacy = {keys[0]: AuditEntry("0cc175b9c0f1b6a831c399e269772661")}
    listed = [StoredObject(keys[0], 1, "size=1;etag=0cc1", "0CC175B9C0F1B6A831C399E269772661")]
    assert plan_load(listed, legacy).adopt == [(keys[0], legacy[keys[0]].checksum, "size=1;etag=0cc1")]
    assert [
        f.key for f in plan_load([StoredObject(keys[0], 1, "size=1;etag=x-2", "x-2")], legacy).recheck
    ] == [keys[0]]
    files = [BronzeFile(f"raw/events/{i}.ndjson.gz", "events", 10) for i in range(5)]
    files.append(BronzeFile("raw/quarantine/q.ndjson.gz", "quarantine", 10))
    groups = batches(files, max_files=2, max_bytes=1000)
    assert [len(g) for g in groups] == [2, 2, 1, 1]
    assert [len(g) for g in batches(files, max_files=100, max_bytes=25)] == [2, 2, 1, 1]


def test_edited_migration_is_refused() -> None:
    found = migrations.discover("duckdb")
    assert [m.version for m in found] == [1, 2]
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrations.pending(found, {1: "not-the-checksum"})
    assert migrations.pending(found, {m.version: m.checksum for m in found}) == []


# --------------------------------------------------------------------------- loading


@pytest.mark.integration
def test_load_twice_second_adds_nothing(bronze_settings: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(bronze_settings)
    written = write_dataset(store)
    settings = settings_for(bronze_settings, tmp_path)

    first = run_load(settings)
    assert first.files_loaded == len(written)
    assert first.rows_loaded == {"events": 105, "quarantine": 7, "journal_counts": 2}
    assert table_counts(settings) == written  # rows equal the lines in bronze, per file
    audit = query(settings, "SELECT file_name, kind, rows, checksum FROM raw.load_audit ORDER BY 1")
    for name, kind, rows, checksum in audit:
        assert rows == written[name]
        assert kind == kind_of(name)
        assert checksum == "sha256:" + hashlib.sha256(store.get(name)).hexdigest()

    second = run_load(settings)
    assert second.files_loaded == 0 and second.total_rows == 0
    assert second.files_skipped == len(written)
    assert table_counts(settings) == written


@pytest.mark.integration
def test_types_and_values_follow_the_contract(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    write_dataset(store, files=1, per_file=3)
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    types = dict(
        query(
            settings,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'events'",
        )
    )
    assert types["occurred_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["ingested_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["payload"] == "JSON"
    row = query(
        settings,
        "SELECT occurred_at, ingested_at, source, payload->'lines'->0->>'unit_price', "
        "json_type(payload->'lines'->0->'unit_price'), raw_b64 FROM raw.events WHERE event_id = "
        f"'{uuid.uuid5(NS, '1')}'",
    )[0]
    assert row[0] == T0 + timedelta(minutes=1, microseconds=7)
    assert row[1] == T0_US
    assert row[2] == "backfill"
    assert row[3] == "19.99" and row[4] == "VARCHAR"  # money stays an exact decimal string
    assert decode(base64.b64decode(row[5])) == decode(base64.b64decode(event_record(1)["raw_b64"]))


@pytest.mark.integration
def test_quarantine_is_queryable_with_reasons(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    write_dataset(open_store(local_bronze), files=1)
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    assert query(settings, "SELECT reason, source, count(*) FROM raw.quarantine GROUP BY ALL") == [
        ("undecodable", "live", 7)
    ]
    detail, redelivered = query(
        settings, "SELECT detail, ingest->>'redelivered' FROM raw.quarantine LIMIT 1"
    )[0]
    assert detail.startswith("not an EventEnvelope") and redelivered == "true"


@pytest.mark.integration
def test_only_new_files_are_loaded(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    written = write_dataset(store, files=2)
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    key = events_key("live", "order_placed", T0, "live-late")
    store.put(key, ndjson_gz([event_record(1000 + j, source="live") for j in range(4)]))
    result = run_load(settings)
    assert result.files_loaded == 1 and result.rows_loaded["events"] == 4
    assert table_counts(settings) == written | {key: 4}


@pytest.mark.integration
def test_journal_counts_are_replaced_per_window(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    write_dataset(store, files=1)
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    key = control_key("journal_counts", "w1.ndjson.gz")
    store.put(key, ndjson_gz(journal_counts_records("w1", 80)))  # the window was backfilled again
    result = run_load(settings)
    assert result.rows_loaded["journal_counts"] == 2 and result.files_loaded == 1
    assert query(settings, "SELECT window_id, journal_rows FROM raw.journal_counts") == [("w1", 80)] * 2
    assert query(settings, f"SELECT checksum FROM raw.load_audit WHERE file_name = '{key}'") == [
        ("sha256:" + hashlib.sha256(store.get(key)).hexdigest(),)
    ]
    assert run_load(settings).files_loaded == 0  # not rewritten since: skipped by its fingerprint
    assert_consistent(settings)


@pytest.mark.integration
def test_bad_file_is_reported_and_retried_never_lost(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    written = write_dataset(store, files=3)
    bad = events_key("live", "order_placed", T0, "live-damaged")
    store.put(bad, gzip.compress(b'{"event_id": "x", "occurred_at": "2026-03-01T12:00:00Z"}\n{not json\n'))
    settings = settings_for(local_bronze, tmp_path)

    with pytest.raises(LoadError, match="1 bronze file") as info:
        run_load(settings)
    assert list(info.value.result.failed) == [bad]
    assert table_counts(settings) == written  # every good file of the same batch still loaded
    assert_consistent(settings)

    store.put(bad, ndjson_gz([event_record(2000, source="live")]))  # repaired object
    assert run_load(settings).files_loaded == 1
    assert table_counts(settings) == written | {bad: 1}


@pytest.mark.integration
def test_failure_between_rows_and_audit_leaves_whole_files(
    local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    store = open_store(local_bronze)
    written = write_dataset(store, files=8)
    settings = settings_for(local_bronze, tmp_path)

    def fault(batch_no: int) -> None:
        if batch_no == 2:
            raise RuntimeError("injected crash after the rows, before the audit")

    with pytest.raises(RuntimeError, match="injected"):
        run_load(settings, fault=fault, max_batch_files=2)
    audit = assert_consistent(settings)
    assert len(audit) == 4  # batches 0 and 1 committed, batch 2 rolled back whole

    run_load(settings, max_batch_files=2)
    assert assert_consistent(settings) == written
    assert table_counts(settings) == written


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from cardpipe.config import BronzeSettings, Settings, WarehouseSettings
    from cardpipe.load import run_load

    def fault(batch_no):
        if batch_no == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)  # killed mid-transaction: rows inserted, audit not yet

    settings = Settings(bronze=BronzeSettings(dir=Path(sys.argv[1])),
                        warehouse=WarehouseSettings(duckdb_path=Path(sys.argv[2])))
    run_load(settings, fault=fault, max_batch_files=2)
    """
)


@pytest.mark.integration
def test_killed_load_never_half_loads_a_file(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    written = write_dataset(store, files=8)
    settings = settings_for(local_bronze, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(local_bronze.dir), str(settings.warehouse.duckdb_path), "3"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    audit = assert_consistent(settings)  # DuckDB's WAL replays committed batches only
    assert len(audit) == 6

    second = run_load(settings)
    assert second.files_loaded == len(written) - 6
    assert table_counts(settings) == written
    assert assert_consistent(settings) == written


@pytest.mark.integration
def test_cli_load_reports_counts(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    write_dataset(open_store(local_bronze), files=2)
    env = os.environ | {
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(local_bronze.dir),
        "WAREHOUSE_KIND": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "cli.duckdb"),
        "CARDPIPE_LOG_FORMAT": "json",
    }
    cardpipe = Path(sys.executable).with_name("cardpipe")
    first = subprocess.run(
        [cardpipe, "load"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "loaded 5 file(s)" in first.stdout and "events=25" in first.stdout
    finished = [json.loads(x) for x in first.stderr.splitlines() if '"load.finished"' in x]
    assert finished and finished[0]["files_loaded"] == 5
    again = subprocess.run(
        [cardpipe, "load"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0 and "loaded 0 file(s), skipped 5" in again.stdout


@pytest.mark.integration
def test_locked_warehouse_fails_fast_with_advice(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    settings = settings_for(local_bronze, tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True);"
            " time.sleep(60)",
            str(settings.warehouse.duckdb_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        with pytest.raises(ServiceUnavailable, match="lock"):
            run_load(settings)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.integration
def test_empty_file_is_audited_with_zero_rows_and_progress_is_reported(
    local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    store = open_store(local_bronze)
    written = write_dataset(store, files=3)
    empty = events_key("live", "order_placed", T0, "live-empty")
    store.put(empty, gzip.compress(b""))
    settings = settings_for(local_bronze, tmp_path)
    calls: list[tuple[int, int]] = []
    result = run_load(settings, progress=lambda done, total: calls.append((done, total)), max_batch_files=2)
    assert result.files_loaded == len(written) + 1
    assert query(settings, f"SELECT rows FROM raw.load_audit WHERE file_name = '{empty}'") == [(0,)]
    assert calls[-1] == (len(written) + 1, len(written) + 1)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert run_load(settings).files_loaded == 0


@pytest.mark.integration
def test_missing_bucket_fails_fast_with_advice(s3_bronze: BronzeSettings, tmp_path: Path) -> None:
    settings = settings_for(s3_bronze.model_copy(update={"s3_bucket": "no-such-bucket-cardpipe"}), tmp_path)
    with pytest.raises(ServiceUnavailable, match=r"s3://no-such-bucket-cardpipe/.*NoSuchBucket.*BRONZE_S3_"):
        run_load(settings)
