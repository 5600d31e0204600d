"""Snowflake load: DDL and audit bookkeeping on fakesnow, COPY SQL text and result parsing as pure code.

fakesnow (DuckDB underneath) has no stages, COPY transforms, METADATA$FILENAME or PATTERN, so the COPY
statement itself is checked as text here; docs/load.md lists what only a real account can prove.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakesnow
import pytest
import snowflake.connector
import sqlfluff
from cardpipe.bronze.layout import control_key, events_key, quarantine_key
from cardpipe.config import BronzeSettings, ConfigError, Settings, SnowflakeSettings, WarehouseSettings
from cardpipe.load import migrations, run_load
from cardpipe.load import snowflake_sql as sql
from cardpipe.load.plan import FileLoad
from cardpipe.load.snowflake_load import SnowflakeWarehouse, connect
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # fakesnow notes its extra Arrow copy

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EVENT_KEY = events_key("live", "order_placed", T0, "live-20260301T120002Z-c1-000001")
QUARANTINE_KEY = quarantine_key("live", "invalid_value", T0, "live-20260301T120002Z-c1-000001")
COUNTS_KEY = control_key("journal_counts", "w-2026-03-01T12.ndjson.gz")


@pytest.fixture
def fake_conn() -> Iterator[Any]:
    with fakesnow.patch():
        conn = snowflake.connector.connect(database="SPORTSCARDS_TEST", schema="RAW")
        yield conn
        conn.close()


@pytest.fixture
def warehouse(fake_conn: Any) -> SnowflakeWarehouse:
    wh = SnowflakeWarehouse(fake_conn, stage="RAW.BRONZE_STAGE", file_format="RAW.NDJSON_GZ")
    wh.migrate()
    return wh


def rows(conn: Any, statement: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(statement)
    return list(cur.fetchall())


# --------------------------------------------------------------------------- DDL on fakesnow


def test_migrations_create_the_raw_tables_once(fake_conn: Any) -> None:
    wh = SnowflakeWarehouse(fake_conn, stage="RAW.BRONZE_STAGE", file_format="RAW.NDJSON_GZ")
    assert wh.migrate() == ["V001__raw_tables", "V002__ndjson_file_format"]
    assert wh.migrate() == []  # idempotent: recorded in RAW.SCHEMA_MIGRATIONS
    columns = rows(
        fake_conn,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'RAW' ORDER BY table_name, ordinal_position",
    )
    by_table: dict[str, dict[str, str]] = {}
    for table, column, data_type in columns:
        by_table.setdefault(table, {})[column] = data_type
    assert list(by_table["EVENTS"]) == [
        "EVENT_ID", "EVENT_TYPE", "SCHEMA_VERSION", "OCCURRED_AT", "PRODUCER", "PAYLOAD", "SOURCE",
        "INGESTED_AT", "RAW_B64", "FILE_NAME", "LOADED_AT",
    ]  # fmt: skip
    assert by_table["EVENTS"]["PAYLOAD"] == "VARIANT"
    assert by_table["EVENTS"]["OCCURRED_AT"] == "TIMESTAMP_TZ"
    assert by_table["QUARANTINE"]["INGEST"] == "VARIANT"
    assert set(by_table["JOURNAL_COUNTS"]) >= {"WINDOW_ID", "JOURNAL_ROWS", "JOURNAL_DISTINCT_EVENT_IDS"}
    assert list(by_table["LOAD_AUDIT"]) == ["FILE_NAME", "KIND", "ROWS", "CHECKSUM", "LOADED_AT"]


def test_every_snowflake_migration_statement_splits_cleanly() -> None:
    for migration in migrations.discover("snowflake"):
        for statement in migration.statements():
            assert ";" not in statement and statement.split()[0] in {"CREATE"}


def test_replay_drop_removes_tables_and_migration_record(
    warehouse: SnowflakeWarehouse, fake_conn: Any
) -> None:
    warehouse.drop_raw()
    assert rows(fake_conn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'RAW'") == [
        (0,)
    ]
    assert warehouse.migrate() == ["V001__raw_tables", "V002__ndjson_file_format"]


# --------------------------------------------------------------------------- audit bookkeeping on fakesnow


def test_audit_rows_commit_and_replace(warehouse: SnowflakeWarehouse, fake_conn: Any) -> None:
    loads = [FileLoad(EVENT_KEY, "events", 120, "aa"), FileLoad(QUARANTINE_KEY, "events", 0, "bb")]
    warehouse._run("BEGIN")
    warehouse.record("events", loads)
    warehouse._run("COMMIT")
    assert rows(fake_conn, 'SELECT FILE_NAME, KIND, "ROWS", CHECKSUM FROM RAW.LOAD_AUDIT ORDER BY 1') == [
        (EVENT_KEY, "events", 120, "aa"),
        (QUARANTINE_KEY, "events", 0, "bb"),
    ]
    # A file reloaded with new content (a rerun window) replaces its audit row, never duplicates it.
    warehouse._run("BEGIN")
    warehouse.record("events", [FileLoad(EVENT_KEY, "events", 130, "cc")])
    warehouse._run("COMMIT")
    assert rows(
        fake_conn, f"SELECT \"ROWS\", CHECKSUM FROM RAW.LOAD_AUDIT WHERE FILE_NAME = '{EVENT_KEY}'"
    ) == [(130, "cc")]


def test_audit_rows_roll_back_with_the_transaction(warehouse: SnowflakeWarehouse, fake_conn: Any) -> None:
    warehouse._run("BEGIN")
    warehouse.record("events", [FileLoad(EVENT_KEY, "events", 5, "aa")])
    warehouse._run("ROLLBACK")
    assert rows(fake_conn, "SELECT count(*) FROM RAW.LOAD_AUDIT") == [(0,)]


def test_journal_counts_keep_the_latest_load_per_window(
    warehouse: SnowflakeWarehouse, fake_conn: Any
) -> None:
    insert = (
        "INSERT INTO RAW.JOURNAL_COUNTS (WINDOW_ID, EVENT_TYPE, JOURNAL_ROWS, JOURNAL_DISTINCT_EVENT_IDS, "
        "FILE_NAME, LOADED_AT) VALUES (%s, %s, %s, %s, %s, %s::TIMESTAMP_TZ)"
    )
    cur = fake_conn.cursor()
    for window, rows_, loaded in (
        ("w1", 50, "2026-03-01 13:00:00+00:00"),
        ("w2", 10, "2026-03-01 13:00:00+00:00"),
        ("w1", 80, "2026-03-02 13:00:00+00:00"),
    ):
        cur.execute(insert, (window, "order_placed", rows_, rows_, f"{window}.ndjson.gz", loaded))
    cur.execute(sql.JOURNAL_REPLACE_SQL)
    assert rows(fake_conn, "SELECT WINDOW_ID, JOURNAL_ROWS FROM RAW.JOURNAL_COUNTS ORDER BY 1") == [
        ("w1", 80),
        ("w2", 10),
    ]


# --------------------------------------------------------------------------- COPY text and results


def test_copy_sql_for_events() -> None:
    text = sql.copy_sql("events", "RAW.BRONZE_STAGE", "RAW.NDJSON_GZ")
    assert text.startswith(
        "COPY INTO RAW.EVENTS (EVENT_ID, EVENT_TYPE, SCHEMA_VERSION, OCCURRED_AT, PRODUCER, "
    )
    assert "$1:occurred_at::TIMESTAMP_TZ" in text
    assert "$1:ingest:ingested_at::TIMESTAMP_TZ" in text
    assert "$1:payload," in text  # VARIANT as is: decimals stay strings
    assert "METADATA$FILENAME" in text
    assert "FROM @RAW.BRONZE_STAGE\n" in text
    assert "FILE_FORMAT = (FORMAT_NAME = 'RAW.NDJSON_GZ')" in text
    assert "ON_ERROR = ABORT_STATEMENT" in text
    assert "FORCE" not in text and "LOAD_UNCERTAIN_FILES" not in text
    replay = sql.copy_sql("events", "RAW.BRONZE_STAGE", "RAW.NDJSON_GZ", load_uncertain_files=True)
    assert replay.endswith("LOAD_UNCERTAIN_FILES = TRUE")


@pytest.mark.parametrize("kind", ["events", "quarantine", "journal_counts"])
def test_copy_column_list_matches_the_select(kind: Any) -> None:
    text = sql.copy_sql(kind, "RAW.BRONZE_STAGE", "RAW.NDJSON_GZ")
    columns = re.search(r"\(([^)]*)\)\nFROM", text)
    assert columns is not None
    select = text.split("SELECT", 1)[1].split("FROM @", 1)[0]
    assert len(columns.group(1).split(", ")) == len([x for x in select.split(",\n") if x.strip()])


def test_patterns_select_only_their_kind() -> None:
    keys = {"events": EVENT_KEY, "quarantine": QUARANTINE_KEY, "journal_counts": COUNTS_KEY}
    for kind in keys:
        pattern = re.compile(sql.pattern_for(kind))  # Snowflake applies PATTERN to the whole path
        for other, key in keys.items():
            for path in (key, f"s3://bucket/sportscards/{key}"):
                assert bool(pattern.fullmatch(path)) == (other == kind), (kind, path)
        assert not pattern.fullmatch("raw/_checkpoints/backfill/state.json")


def test_settings_are_never_spliced_unchecked() -> None:
    with pytest.raises(ValueError, match="stage"):
        sql.copy_sql("events", "RAW.STAGE; DROP TABLE RAW.EVENTS", "RAW.NDJSON_GZ")
    with pytest.raises(ValueError, match="file format"):
        sql.copy_sql("events", "RAW.BRONZE_STAGE", "x' ON_ERROR = CONTINUE --")


COPY_COLUMNS = ["file", "status", "rows_parsed", "rows_loaded", "error_limit", "errors_seen", "first_error",
                "first_error_line", "first_error_character", "first_error_column_name"]  # fmt: skip


def test_copy_result_rows_become_audit_records() -> None:
    result = [
        (f"s3://sportscards-dev-raw/{EVENT_KEY}", "LOADED", 120, 120, 1, 0, None, None, None, None),
        (f"s3://sportscards-dev-raw/{EVENT_KEY.replace('000001', '000002')}", "LOADED", 0, 0, 1, 0, None,
         None, None, None),
    ]  # fmt: skip
    outcome = sql.parse_copy_result("events", COPY_COLUMNS, result, {EVENT_KEY: "md5-1"})
    assert outcome.problems == {}
    assert outcome.loads == [
        FileLoad(EVENT_KEY, "events", 120, "md5-1"),
        FileLoad(EVENT_KEY.replace("000001", "000002"), "events", 0, ""),
    ]


def test_copy_with_nothing_new_records_nothing() -> None:
    outcome = sql.parse_copy_result("events", ["status"], [("Copy executed with 0 files processed.",)], {})
    assert outcome.loads == [] and outcome.problems == {}


def test_copy_failures_are_problems_not_audit_rows() -> None:
    result = [(EVENT_KEY, "LOAD_FAILED", 3, 0, 1, 1, "Error parsing JSON", 2, 1, None)]
    outcome = sql.parse_copy_result("events", [c.upper() for c in COPY_COLUMNS], result, {})
    assert outcome.loads == [] and "Error parsing JSON" in outcome.problems[EVENT_KEY]


# --------------------------------------------------------------------------- connection settings


def test_connect_needs_key_pair_settings() -> None:
    with pytest.raises(ConfigError, match=r"SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, .*SNOWFLAKE_PRIVATE_KEY_PATH"):
        connect(SnowflakeSettings())


def test_connect_reports_an_unreadable_key(tmp_path: Path) -> None:
    settings = SnowflakeSettings(
        account="xy12345", user="LOADER", database="DB", private_key_path=tmp_path / "missing.p8"
    )
    with pytest.raises(ConfigError, match="cannot read the Snowflake private key"):
        connect(settings)


def test_connect_with_an_encrypted_key(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "loader.p8"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    settings = SnowflakeSettings(
        account="xy12345",
        user="LOADER",
        database="DB",
        private_key_path=path,
        private_key_passphrase="s3cret",
    )
    assert "s3cret" not in repr(settings)
    with pytest.raises(ConfigError, match="private key"):
        connect(settings.model_copy(update={"private_key_passphrase": "wrong"}))
    with fakesnow.patch():  # stands in for the network connection; the key is decrypted for real
        conn = connect(settings)
        assert rows(conn, "SELECT 1") == [(1,)]
        conn.close()


def test_run_load_on_snowflake_fails_fast_without_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        bronze=BronzeSettings(dir=tmp_path / "bronze"),
        warehouse=WarehouseSettings(kind="snowflake"),
        snowflake=SnowflakeSettings(),
    )
    with pytest.raises(ConfigError, match="WAREHOUSE_KIND=snowflake needs"):
        run_load(settings)


def _snowflake_statements() -> list[str]:
    statements = [s for m in migrations.discover("snowflake") for s in m.statements()]
    for kind in ("events", "quarantine", "journal_counts"):
        statements += [
            sql.copy_sql(kind, "RAW.BRONZE_STAGE", "RAW.NDJSON_GZ"),
            sql.copy_sql(kind, "RAW.BRONZE_STAGE", "RAW.NDJSON_GZ", load_uncertain_files=True),
            sql.list_sql(kind, "RAW.BRONZE_STAGE"),
        ]
    bound = [sql.AUDIT_INSERT_SQL % ("'f'", "'events'", 1, "'c'"), sql.audit_delete_sql(2) % ("'a'", "'b'")]
    return [*statements, *bound, sql.JOURNAL_REPLACE_SQL, sql.MIGRATIONS_DDL, *sql.DROP_SQL]


@pytest.mark.parametrize("statement", _snowflake_statements(), ids=lambda s: " ".join(s.split()[:3]))
def test_statements_parse_in_the_snowflake_grammar(statement: str) -> None:
    """sqlfluff's Snowflake grammar knows COPY transforms, PATTERN and reserved words (e.g. ROWS) that
    fakesnow cannot check; a parse error here is a statement a real account would reject."""
    sqlfluff.parse(statement, dialect="snowflake")


def test_the_grammar_check_catches_a_reserved_word() -> None:
    with pytest.raises(sqlfluff.api.APIParsingError):
        sqlfluff.parse("CREATE TABLE RAW.X (ROWS NUMBER)", dialect="snowflake")
