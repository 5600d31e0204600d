"""Snowflake load: every statement the loader issues runs on fakesnow, except the few fakesnow cannot run.

RAW is created here the way the infrastructure stack creates it (from `raw_tables`, LOADED_AT defaulting to
CURRENT_TIMESTAMP()); the loader only verifies it, COPYs, keeps the audit and TRUNCATEs on replay.
fakesnow cannot run COPY from an external stage with these transformations (NOT_EXECUTED below, asserted
against fakesnow itself so the list cannot go stale): `FakesnowStage` answers exactly that statement from the
bronze objects the loader lists and hashes (a local store, or moto S3 where ETags matter), evaluating the
loader's own projection expressions and FILE_NAME expression on fakesnow; every other statement
(verification, BEGIN/COMMIT/ROLLBACK, DELETE of a changed file's rows, audit, replace-per-window, TRUNCATE)
is the loader's, executed as is. COPY and the rest also go through sqlfluff's Snowflake grammar.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import fakesnow
import pytest
import snowflake.connector
import sqlfluff
from cardpipe.bronze.layout import control_key, events_key, quarantine_key
from cardpipe.bronze.store import BronzeStore, LocalStore, S3Store, open_store
from cardpipe.config import BronzeSettings, ConfigError, Settings, SnowflakeSettings, WarehouseSettings
from cardpipe.contracts import names, raw_tables
from cardpipe.load import run_load
from cardpipe.load import snowflake_sql as sql
from cardpipe.load.plan import KINDS, PREFIXES, FileLoad, Kind
from cardpipe.load.snowflake_load import (
    CopyIncomplete,
    RawSchemaMismatch,
    SnowflakeWarehouse,
    connect,
    load_into,
    private_key_der,
    run_snowflake_load,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .test_load_changes import put_multipart

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # fakesnow notes its extra Arrow copy

DATABASE = names.snowflake_database("dev")
BUCKET = names.bucket_name("dev", "raw", "123456789012")
STAGE = f"{names.RAW_SCHEMA}.{names.STAGE}"
FILE_FORMAT = f"{names.RAW_SCHEMA}.{names.FILE_FORMAT}"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EVENT_KEY = events_key("live", "order_placed", T0, "live-20260301T120002Z-c1-000001")
QUARANTINE_KEY = quarantine_key("live", "invalid_value", T0, "live-20260301T120002Z-c1-000001")
COUNTS_KEY = control_key("journal_counts", "w-2026-03-01T12.ndjson.gz")
KEYS: dict[Kind, str] = {"events": EVENT_KEY, "quarantine": QUARANTINE_KEY, "journal_counts": COUNTS_KEY}

# What fakesnow (0.12) cannot execute of the loader's SQL, and why. Each entry is run against fakesnow by
# test_fakesnow_still_cannot_run: when fakesnow learns one, that test fails and the statement moves to the
# executed tests. docs/load.md lists the same.
NOT_EXECUTED = {
    "COPY INTO ... FROM (SELECT $1:path::TYPE, ..., METADATA$FILENAME FROM @stage/path/) FILES = (...)": (
        "fakesnow translates it, but reads an S3 stage through DuckDB's httpfs extension, which cannot be "
        "installed here (no network; the DuckDB loader fetches with boto3 for the same reason)"
    ),
    "COPY INTO ... FILES = (...) FORCE = TRUE (a changed file)": "the same, with FORCE",
}


def infra_ddl(table: raw_tables.RawTable) -> str:
    return table.declared_snowflake_ddl()


# RAW.EVENTS as the old Snowflake stack created it: no LOADED_AT default, everything nullable. COPY leaves
# LOADED_AT out, so every row got NULL and staging's watermark never moved.
OLD_TERRAFORM_EVENTS = (
    "CREATE TABLE RAW.EVENTS (EVENT_ID VARCHAR, EVENT_TYPE VARCHAR, SCHEMA_VERSION NUMBER(38,0), "
    "OCCURRED_AT TIMESTAMP_TZ, PRODUCER VARCHAR, PAYLOAD VARIANT, SOURCE VARCHAR, INGESTED_AT TIMESTAMP_TZ, "
    "RAW_B64 VARCHAR, FILE_NAME VARCHAR, LOADED_AT TIMESTAMP_TZ)"
)


def run(conn: Any, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(statement, params)
    return list(cur.fetchall())


def create_infrastructure(conn: Any, *, prefix: str = "", stage_url: str | None = None) -> None:
    run(conn, f"CREATE SCHEMA IF NOT EXISTS {names.RAW_SCHEMA}")
    for table in raw_tables.TABLES:
        run(conn, infra_ddl(table))
    run(conn, f"CREATE FILE FORMAT {FILE_FORMAT} TYPE = JSON COMPRESSION = GZIP")
    run(conn, f"CREATE STAGE {STAGE} URL = '{stage_url or names.stage_url(BUCKET, prefix)}'")


def raw_table_names(conn: Any) -> list[str]:
    return [
        r[0]
        for r in run(
            conn,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'RAW' ORDER BY 1",
        )
    ]


@pytest.fixture
def fake_conn() -> Iterator[Any]:
    with fakesnow.patch():
        conn = snowflake.connector.connect(database=DATABASE, schema=names.RAW_SCHEMA)
        yield conn
        conn.close()


@pytest.fixture
def infra(fake_conn: Any) -> Any:
    create_infrastructure(fake_conn)
    return fake_conn


# --------------------------------------------------------------------------- stand-in for COPY


def ndjson_gz(docs: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(json.dumps(d).encode() + b"\n" for d in docs))


@dataclass
class FakesnowStage(SnowflakeWarehouse):
    """The loader on fakesnow, with COPY (NOT_EXECUTED) answered from the bronze objects in `store`.

    COPY is replayed as what it does: for each line of each file in FILES (read from the store the loader
    lists and hashes, which stands for the stage's bucket), an INSERT with COPY's column list whose values are
    the loader's own SELECT list evaluated on fakesnow (`$1` spelled as a column, METADATA$FILENAME as the
    path Snowflake reports, stage- or bucket-relative), LOADED_AT left to the table default; the result rows
    have COPY's columns with `file` as a full URL. A file that is not gzip'd NDJSON is LOAD_FAILED. Without
    FORCE, files COPY already loaded with these bytes are skipped (its load metadata); TRUNCATE clears it.
    """

    conn: Any
    store: BronzeStore | None = None
    prefix: str = ""
    relative_to: str = "stage"  # how METADATA$FILENAME reads: "stage" or "bucket"
    statements: list[str] = field(default_factory=list)
    load_metadata: set[tuple[Kind, str, str]] = field(default_factory=set)
    _pending: set[tuple[Kind, str, str]] = field(default_factory=set)  # rolled back with the transaction

    def __post_init__(self) -> None:
        SnowflakeWarehouse.__init__(
            self,
            self.conn,
            stage=STAGE,
            file_format=FILE_FORMAT,
            bronze_s3_prefix=self.prefix,
            bronze_s3_bucket=BUCKET,
            store=self.store,
        )

    def put(self, key: str, docs: list[dict[str, Any]]) -> bytes:
        assert self.store is not None
        data = ndjson_gz(docs)
        self.store.put(key, data)
        return data

    def url(self, key: str) -> str:
        return names.stage_url(BUCKET, self.prefix) + names.stage_path(key)

    def metadata_filename(self, key: str) -> str:
        path = names.stage_path(key)
        return path if self.relative_to == "stage" else self.root + path

    def _run(self, statement: str, params: Any = None) -> Any:
        self.statements.append(statement)
        if statement.startswith("COPY INTO "):
            return self._copy(statement)
        if statement in {"COMMIT", "ROLLBACK"}:
            if statement == "ROLLBACK":
                self.load_metadata -= self._pending
            self._pending.clear()
        return super()._run(statement, params)

    def _values(self, columns: list[str], rows: list[tuple[Any, ...]]) -> Any:
        if not rows:
            rows = [tuple(None for _ in columns)]
            where = " WHERE FALSE"
        else:
            where = ""
        values = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in rows)
        select = ", ".join(f'column{i + 1} AS "{c}"' for i, c in enumerate(columns))
        cur = self.conn.cursor()
        cur.execute(f"SELECT {select} FROM VALUES {values}{where}", [v for r in rows for v in r])
        return cur

    def _copy(self, statement: str) -> Any:
        assert self.store is not None
        (kind,) = [k for k in KINDS if statement.startswith(f"COPY INTO {sql.TABLES[k]} (")]
        files = re.search(r"\nFILES = \((.*)\)\n", statement)
        assert files is not None
        keys = [PREFIXES[kind] + path for path in re.findall(r"'([^']*)'", files.group(1))]
        force = statement.endswith("\nFORCE = TRUE")
        # Exactly the statement the loader builds (so this stand-in cannot drift from it).
        assert statement == sql.copy_sql(kind, STAGE, FILE_FORMAT, root=self.root, keys=keys, force=force)
        select = statement.split("SELECT", 1)[1].split("\n    FROM @", 1)[0]
        exprs = select.replace("$1", "doc").replace("METADATA$FILENAME", "fname")
        insert = (
            f"INSERT INTO {sql.TABLES[kind]} ({', '.join(sql.copy_columns(kind))}) "
            f"SELECT {exprs} FROM (SELECT PARSE_JSON(%s) AS doc, %s AS fname)"
        )
        result = []
        for key in keys:
            data = self.store.get(key)
            tag = (kind, key, hashlib.sha256(data).hexdigest())
            if tag in self.load_metadata and not force:
                continue
            try:
                docs = [json.loads(line) for line in gzip.decompress(data).splitlines() if line.strip()]
            except (OSError, ValueError):
                result.append((self.url(key), "LOAD_FAILED", 0, 0, 1, 1, "Error parsing JSON"))
                continue
            for doc in docs:
                super()._run(insert, (json.dumps(doc), self.metadata_filename(key)))
            self.load_metadata.add(tag)
            self._pending.add(tag)
            result.append((self.url(key), "LOADED", len(docs), len(docs), 1, 0, None))
        if not result:
            return self._values(["status"], [("Copy executed with 0 files processed.",)])
        columns = [
            "file",
            "status",
            "rows_parsed",
            "rows_loaded",
            "error_limit",
            "errors_seen",
            "first_error",
        ]
        return self._values(columns, result)

    def truncate_raw(self) -> None:
        super().truncate_raw()
        self.load_metadata.clear()  # what TRUNCATE does to COPY's load metadata on Snowflake


def event_doc(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "order_placed",
        "schema_version": 1,
        "occurred_at": "2026-03-01T12:00:00.123456Z",
        "producer": "orders",
        "payload": {"order_id": "O1", "lines": [{"unit_price": "0.123456789"}]},
        "ingest": {"source": "live", "ingested_at": "2026-03-01T12:00:02Z"},
        "raw_b64": "AAE=",
    }


def counts_doc(window: str, rows: int) -> dict[str, Any]:
    return {
        "window_id": window,
        "since": "2026-03-01T00:00:00Z",
        "until": "2026-03-02T00:00:00Z",
        "event_type": "order_placed",
        "journal_rows": rows,
        "journal_distinct_event_ids": rows,
        "captured_at": "2026-03-02T00:05:00Z",
    }


QUARANTINE_DOC = {
    "reason": "invalid_value",
    "detail": "bad price",
    "event_id": "q1",
    "event_type": "order_placed",
    "raw_b64": "AAI=",
    "ingest": {"source": "live", "ingested_at": "2026-03-01T12:00:02Z"},
}


# --------------------------------------------------------------------------- RAW verification (executed)


def test_verification_passes_on_raw_as_the_infrastructure_creates_it(infra: Any) -> None:
    before = raw_table_names(infra)
    FakesnowStage(infra).verify()
    assert raw_table_names(infra) == before == sorted(t.name for t in raw_tables.TABLES)


def _key_settings(tmp_path: Path, *, prefix: str = "") -> Settings:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Settings(
        data_dir=tmp_path,
        bronze=BronzeSettings(backend="s3", s3_bucket=BUCKET, s3_prefix=prefix),
        warehouse=WarehouseSettings(kind="snowflake"),
        snowflake=SnowflakeSettings(account="xy12345", user="LOADER_SVC", database=DATABASE, private_key=pem),
    )


def test_load_refuses_raw_made_by_the_old_stack_and_creates_nothing(fake_conn: Any, tmp_path: Path) -> None:
    """The old Snowflake stack made RAW.EVENTS without the LOADED_AT default (and nothing else); the old
    loader then ran `CREATE TABLE IF NOT EXISTS` migrations that never applied over it: NULL loaded_at."""
    run(fake_conn, "CREATE SCHEMA IF NOT EXISTS RAW")
    run(fake_conn, OLD_TERRAFORM_EVENTS)
    with pytest.raises(RawSchemaMismatch) as caught:
        run_snowflake_load(_key_settings(tmp_path))  # the real entry point, connected to fakesnow
    message = str(caught.value)
    assert (
        "column RAW.EVENTS.LOADED_AT has default none, expected CURRENT_TIMESTAMP()" in message
        and "column RAW.EVENTS.FILE_NAME allows NULL" in message
        and "table RAW.LOAD_AUDIT is missing" in message
        and f"stage {STAGE} is missing" in message
        and "`make apply ENV=dev`" in message
    ), message
    assert isinstance(caught.value, ConfigError)  # the CLI reports it as configuration, exit status 2
    assert raw_table_names(fake_conn) == ["EVENTS"]  # the loader created nothing
    assert run(fake_conn, "SELECT count(*) FROM RAW.EVENTS") == [(0,)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("ALTER TABLE RAW.QUARANTINE DROP COLUMN INGEST", "column RAW.QUARANTINE.INGEST is missing"),
        ("DROP TABLE RAW.JOURNAL_COUNTS", "table RAW.JOURNAL_COUNTS is missing"),
        (
            "ALTER TABLE RAW.LOAD_AUDIT ADD COLUMN BATCH_ID VARCHAR NOT NULL",
            "RAW.LOAD_AUDIT.BATCH_ID is NOT NULL without a default",
        ),
    ],
)
def test_verification_names_each_difference(infra: Any, change: str, expected: str) -> None:
    run(infra, change)
    with pytest.raises(RawSchemaMismatch, match=re.escape(expected)):
        FakesnowStage(infra).verify()


def test_verification_checks_column_types(fake_conn: Any) -> None:
    create_infrastructure(fake_conn)
    run(fake_conn, "DROP TABLE RAW.EVENTS")
    run(fake_conn, infra_ddl(raw_tables.EVENTS).replace("PAYLOAD VARIANT", "PAYLOAD VARCHAR"))
    with pytest.raises(RawSchemaMismatch, match=r"RAW\.EVENTS\.PAYLOAD is TEXT, expected VARIANT"):
        FakesnowStage(fake_conn).verify()


def test_verification_requires_the_stage_at_the_bronze_root(fake_conn: Any) -> None:
    # The old stack's stage on the bucket's raw/ while the environment writes bronze under a prefix.
    create_infrastructure(fake_conn, stage_url=f"s3://{BUCKET}/raw/")
    with pytest.raises(RawSchemaMismatch) as caught:
        FakesnowStage(fake_conn, prefix="tenant-a").verify()
    assert f"points at s3://{BUCKET}/raw/, expected the bronze root s3://{BUCKET}/tenant-a/raw/" in str(
        caught.value
    )
    FakesnowStage(fake_conn, prefix="").verify()


# --------------------------------------------------------------------------- paths: stage URL + stage path


@pytest.mark.parametrize("prefix", ["", "tenant-a", "a/b"])
@pytest.mark.parametrize("kind", KINDS)
def test_copy_reads_where_bronze_is_written(kind: Kind, prefix: str) -> None:
    """`@stage/<path>` resolves to the stage URL + path: it must be the kind's bronze prefix in the bucket
    (the old `@stage/raw/events/` read `raw/raw/events/` and loaded nothing)."""
    location = sql.stage_location(kind, STAGE)
    stage_path = location.removeprefix(f"@{STAGE}/")
    resolved = names.stage_url(BUCKET, prefix) + stage_path
    written = f"s3://{BUCKET}/{prefix + '/' if prefix else ''}{PREFIXES[kind]}"
    assert resolved == written
    statement = sql.copy_sql(
        kind, STAGE, FILE_FORMAT, root=sql.stage_root(prefix), keys=[KEYS[kind]], force=False
    )
    assert f"FROM {location}\n" in statement
    # FILES are relative to that location: the stage URL + location + file is the object's S3 URL.
    assert f"FILES = ('{KEYS[kind].removeprefix(PREFIXES[kind])}')" in statement


@pytest.mark.parametrize("prefix", ["", "tenant-a"])
def test_file_name_is_the_bronze_key_in_python_and_in_sql(fake_conn: Any, prefix: str) -> None:
    """COPY's `file` column is a URL; METADATA$FILENAME is documented as the file's path ('in the stage' in
    older docs, 'the full path' in newer ones). Every spelling maps to the bronze key, and the SQL expression
    the COPY uses (executed here) agrees with the Python mapping of COPY's result rows."""
    root = sql.stage_root(prefix)
    for key in KEYS.values():
        spellings = {
            names.stage_url(BUCKET, prefix) + names.stage_path(key),  # COPY result / LIST: a full URL
            root + names.stage_path(key),  # bucket-relative
            names.stage_path(key),  # stage-relative
        }
        for spelling in spellings:
            assert sql.bronze_key(spelling, root) == key, spelling
            if "://" not in spelling:
                query = f"SELECT {sql.file_name_sql('fname', root)} FROM (SELECT %s AS fname)"
                (got,) = run(fake_conn, query, (spelling,))
                assert got == (key,), spelling


def test_settings_are_never_spliced_unchecked() -> None:
    with pytest.raises(ValueError, match="stage"):
        sql.copy_sql("events", "RAW.STAGE; DROP TABLE RAW.EVENTS", FILE_FORMAT, root="raw/", keys=[EVENT_KEY],
                     force=False)  # fmt: skip
    with pytest.raises(ValueError, match="file format"):
        sql.copy_sql("events", STAGE, "x' ON_ERROR = CONTINUE --", root="raw/", keys=[EVENT_KEY], force=False)
    with pytest.raises(ValueError, match="is not under"):
        sql.stage_file("events", QUARANTINE_KEY)
    # A quote in an object name cannot end the FILES literal.
    assert sql.stage_file("events", "raw/events/a'b\\c.ndjson.gz") == "'a\\'b\\\\c.ndjson.gz'"
    with pytest.raises(ValueError, match="BRONZE_S3_PREFIX"):
        sql.stage_root("x', 'y")


def test_copy_names_at_most_a_thousand_files() -> None:
    keys = [EVENT_KEY.replace("000001", f"{i:06d}") for i in range(sql.MAX_COPY_FILES + 1)]
    with pytest.raises(ValueError, match="1 to 1000 files"):
        sql.copy_sql("events", STAGE, FILE_FORMAT, root="raw/", keys=keys, force=False)
    with pytest.raises(ValueError, match="1 to 1000 files"):
        sql.copy_sql("events", STAGE, FILE_FORMAT, root="raw/", keys=[], force=False)


@pytest.mark.parametrize("kind", KINDS)
def test_copy_writes_every_raw_column_but_the_defaulted_one(kind: Kind) -> None:
    """COPY's column list is raw_tables' columns minus those left to a default (LOADED_AT), in order."""
    table = sql.RAW_TABLES[kind]
    left_out = [c for c in table.columns if c.name not in sql.copy_columns(kind)]
    assert [c.name for c in left_out] == ["LOADED_AT"] and all(c.default for c in left_out)
    assert sql.copy_columns(kind) == [c.name for c in table.columns if c not in left_out]
    text = sql.copy_sql(kind, STAGE, FILE_FORMAT, root="raw/", keys=[KEYS[kind]], force=True)
    columns = re.search(r"\(([^)]*)\)\nFROM", text)
    assert columns is not None and columns.group(1).split(", ") == sql.copy_columns(kind)


# --------------------------------------------------------------------------- loading (executed on fakesnow)


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def bronze(tmp_path: Path) -> LocalStore:
    """The stage's bucket as the loader lists and reads it (a local store; moto S3 where ETags matter)."""
    return LocalStore(tmp_path / "bronze")


def event_ids(conn: Any, key: str) -> list[str]:
    return [
        r[0] for r in run(conn, "SELECT EVENT_ID FROM RAW.EVENTS WHERE FILE_NAME = %s ORDER BY 1", (key,))
    ]


@pytest.mark.parametrize("relative_to", ["stage", "bucket"])
@pytest.mark.parametrize("prefix", ["", "tenant-a"])
def test_a_load_fills_raw_and_the_audit(
    fake_conn: Any, bronze: LocalStore, prefix: str, relative_to: str
) -> None:
    create_infrastructure(fake_conn, prefix=prefix)
    stage = FakesnowStage(fake_conn, bronze, prefix=prefix, relative_to=relative_to)
    second = EVENT_KEY.replace("000001", "000002")
    data = {
        EVENT_KEY: stage.put(EVENT_KEY, [event_doc("e1"), event_doc("e1")]),  # a redelivery: kept twice
        second: stage.put(second, []),  # an empty flush still gets its audit row
        QUARANTINE_KEY: stage.put(QUARANTINE_KEY, [QUARANTINE_DOC]),
        COUNTS_KEY: stage.put(COUNTS_KEY, [counts_doc("w1", 7)]),
    }
    bronze.put("raw/_checkpoints/backfill/state.json", b"{}")  # not a RAW file: never COPYed
    result = load_into(stage)
    assert (result.files_loaded, result.rows_loaded) == (
        4,
        {"events": 2, "quarantine": 1, "journal_counts": 1},
    )
    events = run(
        fake_conn,
        "SELECT EVENT_ID, SCHEMA_VERSION, OCCURRED_AT, PAYLOAD:lines[0]:unit_price::VARCHAR, SOURCE, "
        "FILE_NAME, LOADED_AT FROM RAW.EVENTS",
    )
    assert [r[:6] for r in events] == [
        ("e1", 1, datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC), "0.123456789", "live", EVENT_KEY)
    ] * 2
    assert all(r[6] is not None for r in events)  # the column default, which COPY relies on
    assert run(fake_conn, "SELECT REASON, INGEST:source::VARCHAR, FILE_NAME FROM RAW.QUARANTINE") == [
        ("invalid_value", "live", QUARANTINE_KEY)
    ]
    # The checksum is the loader's sha256 of the bytes (never LIST's md5/ETag), with the listing fingerprint.
    audit = run(
        fake_conn, 'SELECT FILE_NAME, KIND, "ROWS", CHECKSUM, FINGERPRINT FROM RAW.LOAD_AUDIT ORDER BY 1'
    )
    assert [r[:4] for r in audit] == sorted(
        [
            (EVENT_KEY, "events", 2, sha256_of(data[EVENT_KEY])),
            (second, "events", 0, sha256_of(data[second])),
            (QUARANTINE_KEY, "quarantine", 1, sha256_of(data[QUARANTINE_KEY])),
            (COUNTS_KEY, "journal_counts", 1, sha256_of(data[COUNTS_KEY])),
        ]
    )
    assert all(r[4] and r[4].startswith("size=") for r in audit)
    # FILE_NAME in RAW and the audit is the bronze key, as the DuckDB loader writes it.
    assert run(fake_conn, "SELECT DISTINCT FILE_NAME FROM RAW.EVENTS") == [(EVENT_KEY,)]
    # A rerun: nothing rewritten, nothing read, no COPY.
    stage.statements.clear()
    assert load_into(stage).files_loaded == 0
    assert run(fake_conn, "SELECT count(*) FROM RAW.EVENTS") == [(2,)]
    assert not [s for s in stage.statements if s.startswith("COPY")]
    # The loader issued no DDL: RAW belongs to the infrastructure.
    assert not [s for s in stage.statements if s.split()[0].upper() in {"CREATE", "DROP", "ALTER"}]


def test_a_rewritten_chunk_replaces_its_rows_in_one_transaction(infra: Any, bronze: LocalStore) -> None:
    """The defect on Snowflake: COPY's load metadata took the rewritten object (new ETag) as a new file and
    appended its rows next to the old ones; the audit kept one row. Now the old rows are deleted and the file
    COPYed with FORCE in one transaction: RAW holds exactly the new lines."""
    stage = FakesnowStage(infra, bronze)
    other = EVENT_KEY.replace("000001", "000002")
    stage.put(EVENT_KEY, [event_doc(f"e{i}") for i in range(3)])
    stage.put(other, [event_doc("o1")])
    load_into(stage)
    stage.statements.clear()
    data = stage.put(EVENT_KEY, [event_doc(f"e{i}") for i in range(5)])  # two journal rows committed late
    result = load_into(stage)
    assert (result.files_loaded, result.files_replaced, result.rows_loaded["events"]) == (1, 1, 5)
    assert event_ids(infra, EVENT_KEY) == [f"e{i}" for i in range(5)]
    assert event_ids(infra, other) == ["o1"]
    assert run(infra, 'SELECT "ROWS", CHECKSUM FROM RAW.LOAD_AUDIT WHERE FILE_NAME = %s', (EVENT_KEY,)) == [
        (5, sha256_of(data))
    ]
    body = stage.statements[stage.statements.index("BEGIN") : stage.statements.index("COMMIT")]
    assert [s.split()[0] for s in body[1:3]] == ["DELETE", "COPY"]
    assert body[1] == sql.delete_rows_sql("events", 1) and body[2].endswith("FORCE = TRUE")


def test_a_rewritten_window_replaces_the_older_load(infra: Any, bronze: LocalStore) -> None:
    stage = FakesnowStage(infra, bronze)
    stage.put(COUNTS_KEY, [counts_doc("w1", 7)])
    load_into(stage)
    # The backfill re-ran the window: same key, new content (an extra field too).
    data = stage.put(COUNTS_KEY, [counts_doc("w1", 9) | {"max_seq": 41}])
    assert load_into(stage).files_replaced == 1
    assert run(infra, "SELECT WINDOW_ID, JOURNAL_ROWS FROM RAW.JOURNAL_COUNTS") == [("w1", 9)]
    assert run(infra, 'SELECT "ROWS", CHECKSUM FROM RAW.LOAD_AUDIT') == [(1, sha256_of(data))]


@pytest.mark.integration
def test_a_new_etag_over_the_same_bytes_reloads_nothing(infra: Any, s3_bronze: BronzeSettings) -> None:
    """Under SSE-KMS (and for multipart uploads) the ETag is not an MD5 and a re-upload of the same bytes gets
    a new one (moto gives SSE-KMS objects an MD5 ETag, so a multipart upload stands in). The loader reads the
    object again, finds its own sha256 unchanged and only refreshes the fingerprint."""
    store = open_store(s3_bronze)
    assert isinstance(store, S3Store)
    stage = FakesnowStage(infra, store)
    data = stage.put(EVENT_KEY, [event_doc("e1"), event_doc("e2")])
    load_into(stage)
    (before,) = run(infra, "SELECT FINGERPRINT, LOADED_AT FROM RAW.LOAD_AUDIT")
    etag = put_multipart(store, EVENT_KEY, data)
    assert etag != hashlib.md5(data).hexdigest()
    stage.statements.clear()
    result = load_into(stage)
    assert (result.files_loaded, result.files_verified) == (0, 1)
    assert not [s for s in stage.statements if s.startswith(("COPY", "DELETE FROM RAW.EVENTS"))]
    (after,) = run(infra, "SELECT FINGERPRINT, LOADED_AT FROM RAW.LOAD_AUDIT")
    assert after[0] == f"size={len(data)};etag={etag}" != before[0] and after[1] == before[1]
    assert event_ids(infra, EVENT_KEY) == ["e1", "e2"]

    put_multipart(store, EVENT_KEY, ndjson_gz([event_doc("e1"), event_doc("e2"), event_doc("e3")]))
    assert load_into(stage).files_replaced == 1
    assert event_ids(infra, EVENT_KEY) == ["e1", "e2", "e3"]


def test_a_crash_inside_a_replacement_loses_nothing(infra: Any, bronze: LocalStore) -> None:
    stage = FakesnowStage(infra, bronze)
    stage.put(EVENT_KEY, [event_doc("e1"), event_doc("e2")])
    load_into(stage)
    (audit,) = run(infra, "SELECT CHECKSUM, FINGERPRINT FROM RAW.LOAD_AUDIT")

    # A damaged rewrite: the DELETE ran, COPY fails the file: the transaction (the DELETE too) rolls back.
    bronze.put(EVENT_KEY, b"\x1f\x8b not gzip")
    with pytest.raises(CopyIncomplete, match="LOAD_FAILED"):
        load_into(stage)
    assert event_ids(infra, EVENT_KEY) == ["e1", "e2"]
    assert stage.statements[-1] == "ROLLBACK"

    # Killed after the DELETE and the COPY, before the audit row: rolled back whole.
    stage.put(EVENT_KEY, [event_doc(f"e{i}") for i in range(1, 5)])

    def fault(kind: Kind) -> None:
        raise RuntimeError("injected crash inside the replacement")

    with pytest.raises(RuntimeError, match="injected"):
        load_into(stage, fault=fault)
    assert event_ids(infra, EVENT_KEY) == ["e1", "e2"]
    assert run(infra, "SELECT CHECKSUM, FINGERPRINT FROM RAW.LOAD_AUDIT") == [audit]

    result = load_into(stage)  # the next run sees the change again (COPY's rolled-back metadata too)
    assert result.files_replaced == 1
    assert event_ids(infra, EVENT_KEY) == ["e1", "e2", "e3", "e4"]


def test_audit_rows_from_before_are_verified_once(infra: Any, s3_bronze: BronzeSettings) -> None:
    """Rows the old loader wrote hold LIST's md5 (the ETag) and no fingerprint. An object whose ETag is still
    that value is adopted unread; one whose ETag changed is read, and since an old ETag is no checksum of the
    bytes (SSE-KMS), it is reloaded once, exactly."""
    store = open_store(s3_bronze)
    assert isinstance(store, S3Store)
    stage = FakesnowStage(infra, store)
    other = EVENT_KEY.replace("000001", "000002")
    stage.put(EVENT_KEY, [event_doc("e1")])
    kept_etag = put_multipart(store, other, ndjson_gz([event_doc("o1")]))
    load_into(stage)
    run(infra, "UPDATE RAW.LOAD_AUDIT SET FINGERPRINT = NULL, CHECKSUM = 'etag-of-a-kms-upload'")
    run(infra, "UPDATE RAW.LOAD_AUDIT SET CHECKSUM = %s WHERE FILE_NAME = %s", (kept_etag, other))
    stage.statements.clear()
    result = load_into(stage)
    assert (result.files_loaded, result.files_replaced, result.files_verified) == (1, 1, 0)
    assert event_ids(infra, EVENT_KEY) == ["e1"] and event_ids(infra, other) == ["o1"]
    assert run(infra, "SELECT count(*) FROM RAW.LOAD_AUDIT WHERE FINGERPRINT IS NULL") == [(0,)]
    assert load_into(stage).files_loaded == 0


def test_journal_replace_keeps_the_latest_load_per_window(infra: Any) -> None:
    insert = (
        "INSERT INTO RAW.JOURNAL_COUNTS (WINDOW_ID, EVENT_TYPE, JOURNAL_ROWS, JOURNAL_DISTINCT_EVENT_IDS, "
        "FILE_NAME, LOADED_AT) VALUES (%s, %s, %s, %s, %s, %s::TIMESTAMP_TZ)"
    )
    for window, rows_, loaded in (
        ("w1", 50, "2026-03-01 13:00:00+00:00"),
        ("w2", 10, "2026-03-01 13:00:00+00:00"),
        ("w1", 80, "2026-03-02 13:00:00+00:00"),
    ):
        run(infra, insert, (window, "order_placed", rows_, rows_, f"{window}.ndjson.gz", loaded))
    run(infra, sql.JOURNAL_REPLACE_SQL)
    assert run(infra, "SELECT WINDOW_ID, JOURNAL_ROWS FROM RAW.JOURNAL_COUNTS ORDER BY 1") == [
        ("w1", 80),
        ("w2", 10),
    ]


def test_a_file_copy_could_not_load_rolls_back_its_kind(infra: Any, bronze: LocalStore) -> None:
    stage = FakesnowStage(infra, bronze)
    stage.put(EVENT_KEY, [event_doc("e1")])
    bronze.put(EVENT_KEY.replace("000001", "000009"), b"not gzip at all")
    with pytest.raises(CopyIncomplete, match="LOAD_FAILED: Error parsing JSON"):
        load_into(stage)
    assert run(infra, "SELECT count(*) FROM RAW.EVENTS") == [(0,)]  # the good file's rows too
    assert run(infra, "SELECT count(*) FROM RAW.LOAD_AUDIT") == [(0,)]
    assert stage.statements[-1] == "ROLLBACK"


def test_a_file_copy_skipped_is_a_problem_not_a_silent_gap(infra: Any, bronze: LocalStore) -> None:
    """A new file COPY's load metadata says it loaded, with no audit row (another writer of RAW): reported."""
    stage = FakesnowStage(infra, bronze)
    data = stage.put(EVENT_KEY, [event_doc("e1")])
    stage.load_metadata.add(("events", EVENT_KEY, hashlib.sha256(data).hexdigest()))
    with pytest.raises(CopyIncomplete, match="SKIPPED: COPY's load metadata says it was loaded"):
        load_into(stage)


def test_audit_rows_replace_a_reloaded_file(infra: Any) -> None:
    stage = FakesnowStage(infra)
    stage._run("BEGIN")
    stage.record("events", [FileLoad(EVENT_KEY, "events", 120, "aa", "fp1")])
    stage._run("COMMIT")
    stage._run("BEGIN")
    stage.record("events", [FileLoad(EVENT_KEY, "events", 130, "cc", "fp2")])
    stage._run("COMMIT")
    assert run(infra, 'SELECT FILE_NAME, "ROWS", CHECKSUM, FINGERPRINT FROM RAW.LOAD_AUDIT') == [
        (EVENT_KEY, 130, "cc", "fp2")
    ]


def test_replay_truncates_and_keeps_the_infrastructure_tables(infra: Any, bronze: LocalStore) -> None:
    """LOADER may not drop Terraform's tables: replay TRUNCATEs (which also clears COPY's load metadata), so
    the tables keep their defaults and grants, and every file is loaded again."""
    stage = FakesnowStage(infra, bronze)
    stage.put(EVENT_KEY, [event_doc("e1")])
    stage.put(COUNTS_KEY, [counts_doc("w1", 7)])
    load_into(stage)
    assert load_into(stage).files_loaded == 0
    stage.statements.clear()
    result = load_into(stage, replay=True)
    assert result.files_loaded == 2
    assert [s for s in stage.statements if s.startswith("TRUNCATE")] == sql.TRUNCATE_SQL
    assert all(
        s.endswith("LOAD_UNCERTAIN_FILES = TRUE") for s in stage.statements if s.startswith("COPY")
    )  # files older than 64 days have no certain load status after TRUNCATE
    assert run(infra, "SELECT count(*), min(LOADED_AT) IS NOT NULL FROM RAW.EVENTS") == [(1, True)]
    assert run(infra, "SELECT count(*) FROM RAW.LOAD_AUDIT") == [(2,)]
    assert raw_table_names(infra) == sorted(t.name for t in raw_tables.TABLES)
    stage.verify()  # defaults and columns intact


def test_every_truncate_statement_runs_on_fakesnow(infra: Any) -> None:
    for table in raw_tables.TABLES:
        assert f"TRUNCATE TABLE {table.qualified}" in sql.TRUNCATE_SQL
    run(infra, "INSERT INTO RAW.EVENTS (FILE_NAME) VALUES ('f')")
    SnowflakeWarehouse(infra, stage=STAGE, file_format=FILE_FORMAT).truncate_raw()
    assert run(infra, "SELECT count(*) FROM RAW.EVENTS") == [(0,)]


def test_snowflake_needs_s3_bronze(tmp_path: Path) -> None:
    settings = _key_settings(tmp_path).model_copy(update={"bronze": BronzeSettings(dir=tmp_path / "b")})
    with fakesnow.patch(), pytest.raises(ConfigError, match="BRONZE_BACKEND=s3"):
        run_snowflake_load(settings)


# --------------------------------------------------------------------------- COPY result rows


COPY_COLUMNS = ["file", "status", "rows_parsed", "rows_loaded", "error_limit", "errors_seen", "first_error",
                "first_error_line", "first_error_character", "first_error_column_name"]  # fmt: skip


def test_copy_result_rows_become_audit_records() -> None:
    result = [
        (f"s3://{BUCKET}/{EVENT_KEY}", "LOADED", 120, 120, 1, 0, None, None, None, None),
        (f"s3://{BUCKET}/{EVENT_KEY.replace('000001', '000002')}", "LOADED", 0, 0, 1, 0, None, None, None,
         None),
    ]  # fmt: skip
    outcome = sql.parse_copy_result(
        "events", COPY_COLUMNS, result, {EVENT_KEY: "sha256:1"}, root="raw/", fingerprints={EVENT_KEY: "fp"}
    )
    assert outcome.problems == {}
    assert outcome.loads == [
        FileLoad(EVENT_KEY, "events", 120, "sha256:1", "fp"),
        FileLoad(EVENT_KEY.replace("000001", "000002"), "events", 0, ""),
    ]


def test_copy_with_nothing_new_records_nothing() -> None:
    outcome = sql.parse_copy_result(
        "events", ["status"], [("Copy executed with 0 files processed.",)], {}, root="raw/"
    )
    assert outcome.loads == [] and outcome.problems == {}
    # ... unless a file was named in FILES: COPY skipped it (its load metadata), the audit never saw it.
    skipped = sql.parse_copy_result(
        "events",
        ["status"],
        [("Copy executed with 0 files processed.",)],
        {},
        root="raw/",
        expected=[EVENT_KEY],
    )
    assert list(skipped.problems) == [EVENT_KEY]


def test_copy_failures_are_problems_not_audit_rows() -> None:
    result = [(f"s3://{BUCKET}/{EVENT_KEY}", "LOAD_FAILED", 3, 0, 1, 1, "Error parsing JSON", 2, 1, None)]
    outcome = sql.parse_copy_result("events", [c.upper() for c in COPY_COLUMNS], result, {}, root="raw/")
    assert outcome.loads == [] and "Error parsing JSON" in outcome.problems[EVENT_KEY]


# --------------------------------------------------------------------------- connection settings


def _pem(passphrase: bytes | None = None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _account(**kw: Any) -> SnowflakeSettings:
    return SnowflakeSettings(account="xy12345", user="LOADER_SVC", database=DATABASE, **kw)


def test_connect_needs_key_pair_settings() -> None:
    with pytest.raises(
        ConfigError,
        match=r"SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, .*SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_PRIVATE_KEY",
    ):
        connect(SnowflakeSettings())


def test_connect_reports_an_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the Snowflake private key file"):
        connect(_account(private_key_path=tmp_path / "missing.p8"))


def test_the_key_comes_from_a_file_or_from_the_pem_text(tmp_path: Path) -> None:
    """MWAA workers have no key file: the secret's PEM text is the key. Both forms decrypt for real and
    connect (to fakesnow, standing in for the network)."""
    pem = _pem(b"s3cret")
    path = tmp_path / "loader.p8"
    path.write_text(pem)
    from_file = _account(private_key_path=path, private_key_passphrase="s3cret")
    from_text = _account(private_key=pem, private_key_passphrase="s3cret")
    one_line = _account(private_key=pem.replace("\n", "\\n"), private_key_passphrase="s3cret")
    assert private_key_der(from_file) == private_key_der(from_text) == private_key_der(one_line)
    for settings in (from_file, from_text):
        assert "s3cret" not in repr(settings) and "PRIVATE KEY" not in repr(settings)
        with fakesnow.patch():
            conn = connect(settings)
            assert run(conn, "SELECT 1") == [(1,)]
            conn.close()


def test_exactly_one_key_form(tmp_path: Path) -> None:
    pem = _pem()
    path = tmp_path / "loader.p8"
    path.write_text(pem)
    with pytest.raises(ConfigError) as caught:
        connect(_account(private_key=pem, private_key_path=path))
    assert "SNOWFLAKE_PRIVATE_KEY (" in str(caught.value) and "SNOWFLAKE_PRIVATE_KEY_PATH" in str(
        caught.value
    )
    assert "PRIVATE KEY-----" not in str(caught.value) and pem[40:80] not in str(caught.value)


@pytest.mark.parametrize(
    "settings",
    [
        _account(private_key=_pem(b"right-passphrase"), private_key_passphrase="wrong-passphrase"),
        _account(private_key=_pem(b"right-passphrase")),  # encrypted, no passphrase
        _account(private_key="-----BEGIN PRIVATE KEY-----\nnot-a-key-but-secret-material\n"),
    ],
    ids=["wrong passphrase", "missing passphrase", "not a key"],
)
def test_key_errors_name_the_setting_never_the_secret(settings: SnowflakeSettings) -> None:
    with pytest.raises(ConfigError) as caught:
        connect(settings)
    message = str(caught.value)
    assert "SNOWFLAKE_PRIVATE_KEY" in message and "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE" in message
    assert settings.private_key is not None
    secrets = [settings.private_key_passphrase or "", "not-a-key-but-secret-material", "right-passphrase"]
    secrets += [line for line in settings.private_key.splitlines() if "-----" not in line]
    assert not [s for s in secrets if s and s in message]
    assert message not in repr(settings)


def test_run_load_on_snowflake_fails_fast_without_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        bronze=BronzeSettings(dir=tmp_path / "bronze"),
        warehouse=WarehouseSettings(kind="snowflake"),
        snowflake=SnowflakeSettings(),
    )
    with pytest.raises(ConfigError, match="WAREHOUSE_KIND=snowflake needs"):
        run_load(settings)


# --------------------------------------------------------------------------- what fakesnow cannot run


def test_fakesnow_still_cannot_run(infra: Any) -> None:
    """The statements NOT_EXECUTED lists really fail on fakesnow (if fakesnow learns one, execute it instead
    of standing in for it, and shorten the list here and in docs/load.md)."""
    attempts = {
        next(k for k in NOT_EXECUTED if k.startswith("COPY INTO ... FROM")): sql.copy_sql(
            "events", STAGE, FILE_FORMAT, root="raw/", keys=[EVENT_KEY], force=False
        ),
        next(k for k in NOT_EXECUTED if "FORCE" in k): sql.copy_sql(
            "events", STAGE, FILE_FORMAT, root="raw/", keys=[EVENT_KEY], force=True
        ),
    }
    assert set(attempts) == set(NOT_EXECUTED)
    ran = []
    for what, statement in attempts.items():
        try:
            run(infra, statement)
        except (
            snowflake.connector.errors.Error,
            duckdb.Error,
            ValueError,
            NotImplementedError,
            AssertionError,
        ):
            continue
        ran.append(what)
    assert ran == [], f"fakesnow now runs {ran}: execute them in these tests"


def _snowflake_statements() -> list[str]:
    statements = []
    for kind in KINDS:
        for root in ("raw/", "tenant-a/raw/"):
            statements += [
                sql.copy_sql(kind, STAGE, FILE_FORMAT, root=root, keys=[KEYS[kind], KEYS[kind]], force=False),
                sql.copy_sql(kind, STAGE, FILE_FORMAT, root=root, keys=[KEYS[kind]], force=True),
            ]
        statements.append(sql.delete_rows_sql(kind, 2) % ("'a'", "'b'"))
    bound = [
        sql.AUDIT_INSERT_SQL % ("'f'", "'events'", 1, "'c'", "'fp'"),
        sql.audit_delete_sql(2) % ("'a'", "'b'"),
        sql.AUDIT_REFRESH_SQL % ("'c'", "'fp'", "'f'"),
    ]
    return [
        *statements,
        *bound,
        sql.AUDIT_SELECT_SQL,
        sql.JOURNAL_REPLACE_SQL,
        *sql.TRUNCATE_SQL,
        sql.verify_sql(),
        sql.stage_sql(STAGE),
    ]


@pytest.mark.parametrize("statement", _snowflake_statements(), ids=lambda s: " ".join(s.split()[:3]))
def test_statements_parse_in_the_snowflake_grammar(statement: str) -> None:
    """sqlfluff's Snowflake grammar knows COPY transforms, PATTERN and reserved words (e.g. ROWS) that
    fakesnow cannot check; a parse error here is a statement a real account would reject."""
    sqlfluff.parse(statement, dialect="snowflake")


def test_the_grammar_check_catches_a_reserved_word() -> None:
    with pytest.raises(sqlfluff.api.APIParsingError):
        sqlfluff.parse("CREATE TABLE RAW.X (ROWS NUMBER)", dialect="snowflake")
