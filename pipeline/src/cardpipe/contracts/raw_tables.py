"""The RAW tables' columns: one definition for every tool that creates, fills or reads them.

Who owns the DDL: on Snowflake the infrastructure stack creates the RAW tables (as SYSADMIN) from these
columns
and the loader, as LOADER, only verifies them before a load (`cardpipe.load.snowflake_load`); locally the
loader's DuckDB migrations create them (`load/sql/duckdb/V001__raw_tables.sql`, checked against these columns
by
tests/contract). dbt's sources read them. Standard library only (infra imports it; see names.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cardpipe.contracts import names


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # upper case, as Snowflake folds unquoted identifiers; DuckDB uses the lower-case spelling
    snowflake_type: str
    duckdb_type: str
    nullable: bool = True
    # SQL expression filled in by the warehouse when a load leaves the column out (COPY's column list does).
    default: str | None = None
    # Snowflake reserves some words (ROWS): queries must quote such a column.
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class RawTable:
    name: str
    comment: str
    columns: tuple[Column, ...]

    @property
    def qualified(self) -> str:
        return f"{names.RAW_SCHEMA}.{self.name}"

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def declared_snowflake_ddl(self) -> str:
        """The CREATE TABLE the infrastructure stack declares, as SQL, for Snowflake emulators (fakesnow),
        which
        cannot run Terraform. The loader never runs it: on Snowflake it only verifies what the stack made."""
        columns = []
        for col in self.columns:
            name = f'"{col.name}"' if col.quoted else col.name
            spec = f"{name} {col.snowflake_type}"
            spec += "" if col.nullable else " NOT NULL"
            spec += f" DEFAULT {col.default}" if col.default else ""
            columns.append(spec)
        return f"CREATE TABLE {self.qualified} ({', '.join(columns)})"


_TS = ("TIMESTAMP_TZ", "timestamptz")
_LOADED_AT = Column("LOADED_AT", *_TS, nullable=False, default="CURRENT_TIMESTAMP()")
_FILE_NAME = Column("FILE_NAME", "VARCHAR", "varchar", nullable=False)

EVENTS: Final = RawTable(
    names.RAW_EVENTS_TABLE,
    "One row per bronze event line (at-least-once: duplicates kept); staging deduplicates by event_id",
    (
        Column("EVENT_ID", "VARCHAR", "varchar"),
        Column("EVENT_TYPE", "VARCHAR", "varchar"),
        Column("SCHEMA_VERSION", "NUMBER(38,0)", "integer"),
        Column("OCCURRED_AT", *_TS),
        Column("PRODUCER", "VARCHAR", "varchar"),
        Column("PAYLOAD", "VARIANT", "json"),
        Column("SOURCE", "VARCHAR", "varchar"),
        Column("INGESTED_AT", *_TS),
        Column("RAW_B64", "VARCHAR", "varchar"),
        _FILE_NAME,
        _LOADED_AT,
    ),
)
QUARANTINE: Final = RawTable(
    names.RAW_QUARANTINE_TABLE,
    "Events ingestion could not accept, with a typed reason and the original bytes (never in the marts)",
    (
        Column("REASON", "VARCHAR", "varchar"),
        Column("DETAIL", "VARCHAR", "varchar"),
        Column("EVENT_ID", "VARCHAR", "varchar"),
        Column("EVENT_TYPE", "VARCHAR", "varchar"),
        Column("SOURCE", "VARCHAR", "varchar"),
        Column("INGESTED_AT", *_TS),
        Column("RAW_B64", "VARCHAR", "varchar"),
        Column("INGEST", "VARIANT", "json"),
        _FILE_NAME,
        _LOADED_AT,
    ),
)
JOURNAL_COUNTS: Final = RawTable(
    names.RAW_JOURNAL_COUNTS_TABLE,
    "Backfill control records per journal window and event_type (latest load per window wins)",
    (
        Column("WINDOW_ID", "VARCHAR", "varchar"),
        Column("SINCE", *_TS),
        Column("UNTIL", *_TS),
        Column("EVENT_TYPE", "VARCHAR", "varchar"),
        Column("JOURNAL_ROWS", "NUMBER(38,0)", "bigint"),
        Column("JOURNAL_DISTINCT_EVENT_IDS", "NUMBER(38,0)", "bigint"),
        Column("CAPTURED_AT", *_TS),
        _FILE_NAME,
        _LOADED_AT,
    ),
)
LOAD_AUDIT: Final = RawTable(
    names.RAW_LOAD_AUDIT_TABLE,
    "One row per loaded bronze file: the loader's exactly-once ledger",
    (
        _FILE_NAME,
        Column("KIND", "VARCHAR", "varchar", nullable=False),
        Column("ROWS", "NUMBER(38,0)", "bigint", nullable=False, quoted=True),
        # The loader's own checksum of the bytes it loaded, `sha256:<hex>` (bare hex: a row from before).
        Column("CHECKSUM", "VARCHAR", "varchar"),
        Column("LOADED_AT", *_TS, nullable=False),
        # The listing fingerprint when loaded (S3: size + ETag): a change makes the loader re-read the object.
        # Last, so that the stack adds it to an existing table (nullable: rows from before have none).
        Column("FINGERPRINT", "VARCHAR", "varchar"),
    ),
)
TABLES: Final = (EVENTS, QUARANTINE, JOURNAL_COUNTS, LOAD_AUDIT)
