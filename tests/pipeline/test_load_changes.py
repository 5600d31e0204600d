"""A bronze object rewritten under the same name (a re-run backfill chunk) is noticed by content and its rows
are replaced exactly once, in DuckDB; rewrites with the same bytes reload nothing; the upgrade from audit rows
without fingerprints verifies each file once."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cardpipe.bronze.layout import control_key, events_key
from cardpipe.bronze.store import BronzeStore, S3Store, open_store
from cardpipe.config import BronzeSettings, Settings
from cardpipe.load import LoadError, migrations, run_load
from cardpipe.load.duckdb_load import MIGRATIONS_DDL, _load_sql

from .test_load_duckdb import (
    KILL_SCRIPT,
    T0,
    assert_consistent,
    event_record,
    journal_counts_records,
    ndjson_gz,
    query,
    settings_for,
    table_counts,
    write_dataset,
)

CHUNK = events_key("backfill", "order_placed", T0, "w1-chunk-000001")


def chunk_records(first: int, count: int) -> list[dict[str, Any]]:
    return [event_record(first + j) for j in range(count)]


def event_ids(settings: Settings, key: str) -> list[str]:
    return [
        r[0] for r in query(settings, f"SELECT event_id FROM raw.events WHERE file_name = '{key}' ORDER BY 1")
    ]


def expected_ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["event_id"] for r in records)


def sha256(store: BronzeStore, key: str) -> str:
    return "sha256:" + hashlib.sha256(store.get(key)).hexdigest()


def put_multipart(store: S3Store, key: str, data: bytes) -> str:
    """Upload as S3 multipart (one part): the ETag is `<md5 of part md5s>-1`, not an MD5 of the bytes, like an
    SSE-KMS ETag. Returns the new ETag."""
    client: Any = store.client
    upload = client.create_multipart_upload(Bucket=store.bucket, Key=store.prefix + key)
    part = client.upload_part(
        Bucket=store.bucket, Key=store.prefix + key, UploadId=upload["UploadId"], PartNumber=1, Body=data
    )
    done = client.complete_multipart_upload(
        Bucket=store.bucket,
        Key=store.prefix + key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    return str(done["ETag"]).strip('"')


@pytest.mark.integration
def test_a_rewritten_chunk_replaces_its_rows_exactly(bronze_settings: BronzeSettings, tmp_path: Path) -> None:
    """The defect: late journal rows, the chunk re-run, the object overwritten with more lines, and `load`
    skipped it because the name was audited: the new rows never reached RAW."""
    store = open_store(bronze_settings)
    written = write_dataset(store, files=3)
    first = chunk_records(5000, 10)
    store.put(CHUNK, ndjson_gz(first))
    settings = settings_for(bronze_settings, tmp_path)
    run_load(settings)
    before = query(settings, f"SELECT min(loaded_at) FROM raw.events WHERE file_name <> '{CHUNK}'")

    rerun = chunk_records(5000, 14)  # the same ten rows plus four committed late
    store.put(CHUNK, ndjson_gz(rerun))
    result = run_load(settings)

    assert (result.files_loaded, result.files_replaced, result.rows_loaded["events"]) == (1, 1, 14)
    assert event_ids(settings, CHUNK) == expected_ids(rerun)  # exactly the new lines, nothing twice
    assert table_counts(settings) == written | {CHUNK: 14}  # every other file untouched
    assert query(settings, f"SELECT min(loaded_at) FROM raw.events WHERE file_name <> '{CHUNK}'") == before
    assert query(settings, f"SELECT rows, checksum FROM raw.load_audit WHERE file_name = '{CHUNK}'") == [
        (14, sha256(store, CHUNK))
    ]
    assert_consistent(settings)
    # Replaced rows carry the new batch's loaded_at: dbt staging (incremental on loaded_at, deduplicating by
    # event_id) picks the four new events up.
    newest = query(settings, f"SELECT count(DISTINCT loaded_at) FROM raw.events WHERE file_name = '{CHUNK}'")
    assert newest == [(1,)]
    again = run_load(settings)
    assert again.files_loaded == 0 and again.files_verified == 0  # not rewritten since: not even read


@pytest.mark.integration
def test_a_rewrite_with_the_same_bytes_reloads_nothing(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    write_dataset(store, files=2)
    store.put(CHUNK, ndjson_gz(chunk_records(5000, 10)))
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    rows_before = query(settings, f"SELECT event_id, loaded_at FROM raw.events WHERE file_name = '{CHUNK}'")
    fingerprint = query(settings, f"SELECT fingerprint FROM raw.load_audit WHERE file_name = '{CHUNK}'")

    store.put(CHUNK, store.get(CHUNK))  # a re-run chunk with no late rows: new file, same bytes
    result = run_load(settings)
    assert (result.files_loaded, result.files_verified, result.total_rows) == (0, 1, 0)
    assert (
        query(settings, f"SELECT event_id, loaded_at FROM raw.events WHERE file_name = '{CHUNK}'")
        == rows_before
    )
    refreshed = query(settings, f"SELECT fingerprint FROM raw.load_audit WHERE file_name = '{CHUNK}'")
    assert refreshed != fingerprint  # so the next run does not read it again
    assert run_load(settings).files_verified == 0


@pytest.mark.integration
def test_etags_that_are_not_md5s_are_never_taken_for_checksums(
    s3_bronze: BronzeSettings, tmp_path: Path
) -> None:
    """SSE-KMS and multipart ETags are not an MD5 of the bytes (moto gives an MD5 for SSE-KMS, so a multipart
    upload stands in): a new ETag over the same bytes is verified by the loader's own sha256 and reloads
    nothing; a new ETag over other bytes replaces the rows."""
    store = open_store(s3_bronze)
    assert isinstance(store, S3Store)
    data = ndjson_gz(chunk_records(5000, 10))
    etag = put_multipart(store, CHUNK, data)
    assert etag.endswith("-1") and etag != hashlib.md5(data).hexdigest()
    settings = settings_for(s3_bronze, tmp_path)
    assert run_load(settings).files_loaded == 1
    assert query(settings, f"SELECT checksum FROM raw.load_audit WHERE file_name = '{CHUNK}'") == [
        ("sha256:" + hashlib.sha256(data).hexdigest(),)
    ]

    store.put(CHUNK, data)  # same bytes, a plain PUT: the ETag is now the MD5, the fingerprint changed
    result = run_load(settings)
    assert (result.files_loaded, result.files_verified) == (0, 1)

    rerun = chunk_records(5000, 12)
    put_multipart(store, CHUNK, ndjson_gz(rerun))
    result = run_load(settings)
    assert (result.files_loaded, result.files_replaced) == (1, 1)
    assert event_ids(settings, CHUNK) == expected_ids(rerun)
    assert_consistent(settings)


@pytest.mark.integration
def test_a_crash_during_a_replacement_loses_nothing(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    written = write_dataset(store, files=2)
    first = chunk_records(5000, 10)
    store.put(CHUNK, ndjson_gz(first))
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)

    # A damaged rewrite: the DELETE of the old rows ran, the INSERT fails: both roll back.
    store.put(CHUNK, b"\x1f\x8b not gzip")
    with pytest.raises(LoadError, match=CHUNK):
        run_load(settings)
    assert event_ids(settings, CHUNK) == expected_ids(first)

    # A crash after the DELETE and the INSERT, before the audit row: rolled back whole.
    rerun = chunk_records(5000, 13)
    store.put(CHUNK, ndjson_gz(rerun))

    def fault(batch_no: int) -> None:
        raise RuntimeError("injected crash inside the replacement")

    with pytest.raises(RuntimeError, match="injected"):
        run_load(settings, fault=fault)
    assert event_ids(settings, CHUNK) == expected_ids(first)
    assert_consistent(settings)

    result = run_load(settings)  # the next run notices the change again and completes it
    assert (result.files_loaded, result.files_replaced) == (1, 1)
    assert event_ids(settings, CHUNK) == expected_ids(rerun)
    assert table_counts(settings) == written | {CHUNK: 13}


@pytest.mark.integration
def test_a_killed_replacement_loses_nothing(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    store = open_store(local_bronze)
    first = chunk_records(5000, 10)
    store.put(CHUNK, ndjson_gz(first))
    settings = settings_for(local_bronze, tmp_path)
    run_load(settings)
    rerun = chunk_records(5000, 15)
    store.put(CHUNK, ndjson_gz(rerun))
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(local_bronze.dir), str(settings.warehouse.duckdb_path), "0"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert event_ids(settings, CHUNK) == expected_ids(first)  # SIGKILLed mid-replacement: the old rows
    assert run_load(settings).files_replaced == 1
    assert event_ids(settings, CHUNK) == expected_ids(rerun)
    assert_consistent(settings)


@pytest.mark.integration
def test_journal_counts_with_extra_fields_are_accepted(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    """The backfill may add fields to its control records (e.g. a planned max seq): RAW keeps its columns."""
    store = open_store(local_bronze)
    key = control_key("journal_counts", "w1.ndjson.gz")
    store.put(key, ndjson_gz([r | {"max_seq": 99} for r in journal_counts_records("w1", 50)]))
    settings = settings_for(local_bronze, tmp_path)
    assert run_load(settings).rows_loaded["journal_counts"] == 2
    store.put(key, ndjson_gz([r | {"max_seq": 120} for r in journal_counts_records("w1", 70)]))
    assert run_load(settings).files_replaced == 1
    assert query(settings, "SELECT DISTINCT journal_rows FROM raw.journal_counts") == [(70,)]


def _legacy_warehouse(settings: Settings, store: BronzeStore, keys: list[str]) -> None:
    """A warehouse as the loader before V002 left it: V001 only, md5 checksums, no fingerprints."""
    path = settings.warehouse.duckdb_path
    with duckdb.connect(str(path)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for statement in migrations.split_statements(MIGRATIONS_DDL):
            conn.execute(statement)
        v001 = migrations.discover("duckdb")[0]
        for statement in v001.statements():
            conn.execute(statement)
        conn.execute("INSERT INTO raw.schema_migrations (version, name, checksum) VALUES (1, ?, ?)",
                     [v001.name, v001.checksum])  # fmt: skip
        local_bronze = settings.bronze.backend == "local"
        root = Path(settings.bronze.dir if local_bronze else path.parent / "legacy-copy").resolve()
        for n, key in enumerate(keys):
            data = store.get(key)
            local = root / key
            if not local_bronze:
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(data)
            loaded_at = T0 + timedelta(days=1, seconds=n)
            conn.execute(
                _load_sql("events"),
                {"paths": [str(local)], "prefix_len": len(str(local)) - len(key), "loaded_at": loaded_at},
            )
            rows = conn.execute("SELECT count(*) FROM raw.events WHERE loaded_at = ?", [loaded_at]).fetchone()
            assert rows is not None
            conn.execute(
                "INSERT INTO raw.load_audit VALUES (?, 'events', ?, ?, ?)",
                [key, rows[0], hashlib.md5(data).hexdigest(), loaded_at],
            )
        assert conn.execute("SELECT DISTINCT file_name FROM raw.events ORDER BY 1").fetchall() == [
            (k,) for k in sorted(keys)
        ]


@pytest.mark.integration
def test_the_upgrade_verifies_old_audit_rows_once(bronze_settings: BronzeSettings, tmp_path: Path) -> None:
    """Audit rows from before V002 (md5, no fingerprint): unchanged files are not reloaded (S3: their ETag is
    still that md5, so they are not even read; local: read once and compared by md5); a file rewritten before
    the upgrade is replaced."""
    store = open_store(bronze_settings)
    other = CHUNK.replace("000001", "000002")
    store.put(CHUNK, ndjson_gz(chunk_records(5000, 10)))
    store.put(other, ndjson_gz(chunk_records(6000, 5)))
    settings = settings_for(bronze_settings, tmp_path)
    _legacy_warehouse(settings, store, [CHUNK, other])
    rerun = chunk_records(5000, 12)
    store.put(CHUNK, ndjson_gz(rerun))  # the backfill re-ran the chunk; the old loader skipped it

    result = run_load(settings)
    assert (result.files_loaded, result.files_replaced) == (1, 1)
    assert result.files_verified == (1 if bronze_settings.backend == "local" else 0)
    assert event_ids(settings, CHUNK) == expected_ids(rerun)
    assert len(event_ids(settings, other)) == 5
    assert query(settings, "SELECT version FROM raw.schema_migrations ORDER BY 1") == [(1,), (2,)]
    audit = dict(query(settings, "SELECT file_name, checksum FROM raw.load_audit"))
    assert audit[CHUNK] == sha256(store, CHUNK)
    # The unchanged file: sha256 after a read, or its md5 kept where the ETag proved it unchanged.
    assert audit[other] in {sha256(store, other), hashlib.md5(store.get(other)).hexdigest()}
    assert query(settings, "SELECT count(*) FROM raw.load_audit WHERE fingerprint IS NULL") == [(0,)]
    assert_consistent(settings)
    again = run_load(settings)
    assert (again.files_loaded, again.files_verified) == (0, 0)
