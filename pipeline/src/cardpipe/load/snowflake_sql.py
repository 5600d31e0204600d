"""Snowflake load SQL, built and parsed without a connection (so it is unit-testable).

ON_ERROR policy: ABORT_STATEMENT for every kind. Bronze lines were already validated at ingestion (bad
events sit in quarantine), so a line COPY cannot parse means a damaged object: aborting fails the task
loudly and loads nothing from that statement, instead of CONTINUE/SKIP_FILE silently dropping events.
No FORCE: COPY's own load metadata (64 days) skips files it already loaded, so a rerun is a no-op.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cardpipe.load.plan import PREFIXES, FileLoad, Kind

TABLES: dict[Kind, str] = {
    "events": "RAW.EVENTS",
    "quarantine": "RAW.QUARANTINE",
    "journal_counts": "RAW.JOURNAL_COUNTS",
}

# (target column, expression over the staged JSON document $1)
_PROJECTIONS: dict[Kind, list[tuple[str, str]]] = {
    "events": [
        ("EVENT_ID", "$1:event_id::VARCHAR"),
        ("EVENT_TYPE", "$1:event_type::VARCHAR"),
        ("SCHEMA_VERSION", "$1:schema_version::INTEGER"),
        ("OCCURRED_AT", "$1:occurred_at::TIMESTAMP_TZ"),
        ("PRODUCER", "$1:producer::VARCHAR"),
        ("PAYLOAD", "$1:payload"),
        ("SOURCE", "$1:ingest:source::VARCHAR"),
        ("INGESTED_AT", "$1:ingest:ingested_at::TIMESTAMP_TZ"),
        ("RAW_B64", "$1:raw_b64::VARCHAR"),
        ("FILE_NAME", "METADATA$FILENAME"),
    ],
    "quarantine": [
        ("REASON", "$1:reason::VARCHAR"),
        ("DETAIL", "$1:detail::VARCHAR"),
        ("EVENT_ID", "$1:event_id::VARCHAR"),
        ("EVENT_TYPE", "$1:event_type::VARCHAR"),
        ("SOURCE", "$1:ingest:source::VARCHAR"),
        ("INGESTED_AT", "$1:ingest:ingested_at::TIMESTAMP_TZ"),
        ("RAW_B64", "$1:raw_b64::VARCHAR"),
        ("INGEST", "$1:ingest"),
        ("FILE_NAME", "METADATA$FILENAME"),
    ],
    "journal_counts": [
        ("WINDOW_ID", "$1:window_id::VARCHAR"),
        ("SINCE", "$1:since::TIMESTAMP_TZ"),
        ("UNTIL", "$1:until::TIMESTAMP_TZ"),
        ("EVENT_TYPE", "$1:event_type::VARCHAR"),
        ("JOURNAL_ROWS", "$1:journal_rows::NUMBER"),
        ("JOURNAL_DISTINCT_EVENT_IDS", "$1:journal_distinct_event_ids::NUMBER"),
        ("CAPTURED_AT", "$1:captured_at::TIMESTAMP_TZ"),
        ("FILE_NAME", "METADATA$FILENAME"),
    ],
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


def _identifier(name: str, what: str) -> str:
    """Stage and file format names come from settings and are spliced into SQL: allow plain names only."""
    if not _IDENTIFIER.match(name):
        raise ValueError(
            f"{what} {name!r} is not a plain [DB.]SCHEMA.NAME identifier; fix SNOWFLAKE_* settings"
        )
    return name


def pattern_for(kind: Kind) -> str:
    """PATTERN regex (Snowflake matches it against the whole path; the leading .* tolerates a stage URL
    deeper or shallower than the bronze root)."""
    return ".*" + PREFIXES[kind].replace(".", "[.]") + r".*[.]ndjson[.]gz"


def copy_sql(kind: Kind, stage: str, file_format: str, *, load_uncertain_files: bool = False) -> str:
    """COPY INTO the kind's RAW table from the stage; LOADED_AT is left to the column default."""
    columns = ", ".join(col for col, _ in _PROJECTIONS[kind])
    select = ",\n        ".join(expr for _, expr in _PROJECTIONS[kind])
    uncertain = "\nLOAD_UNCERTAIN_FILES = TRUE" if load_uncertain_files else ""
    return (
        f"COPY INTO {TABLES[kind]} ({columns})\n"
        f"FROM (\n    SELECT\n        {select}\n    FROM @{_identifier(stage, 'stage')}\n)\n"
        f"FILE_FORMAT = (FORMAT_NAME = '{_identifier(file_format, 'file format')}')\n"
        f"PATTERN = '{pattern_for(kind)}'\n"
        f"ON_ERROR = ABORT_STATEMENT{uncertain}"
    )


def list_sql(kind: Kind, stage: str) -> str:
    """LIST the kind's objects: their md5 (the S3 ETag) is the audit checksum on Snowflake."""
    return f"LIST @{_identifier(stage, 'stage')}/{PREFIXES[kind]} PATTERN = '{pattern_for(kind)}'"


def relative_key(name: str, kind: Kind) -> str:
    """The bronze key of a stage path ('s3://bucket/prefix/raw/events/...' -> 'raw/events/...')."""
    at = name.rfind(PREFIXES[kind])
    return name[at:] if at >= 0 else name


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    loads: list[FileLoad]
    problems: dict[str, str]


def parse_copy_result(
    kind: Kind, columns: Sequence[str], rows: Sequence[Sequence[Any]], checksums: dict[str, str]
) -> CopyOutcome:
    """Turn COPY's result rows (one per file) into audit records; anything not LOADED is a problem.

    With no new files COPY returns a single row whose only column is a status message: no loads.
    """
    names = [c.lower() for c in columns]
    if "file" not in names:
        return CopyOutcome([], {})
    loads: list[FileLoad] = []
    problems: dict[str, str] = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        key = relative_key(str(record["file"]), kind)
        status = str(record.get("status", "")).upper()
        if status == "LOADED":
            loads.append(FileLoad(key, kind, int(record.get("rows_loaded") or 0), checksums.get(key, "")))
        else:
            problems[key] = f"{status}: {record.get('first_error')}"
    return CopyOutcome(loads, problems)


def audit_delete_sql(count: int) -> str:
    placeholders = ", ".join(["%s"] * count)
    return f"DELETE FROM RAW.LOAD_AUDIT WHERE FILE_NAME IN ({placeholders})"


AUDIT_INSERT_SQL = (
    'INSERT INTO RAW.LOAD_AUDIT (FILE_NAME, KIND, "ROWS", CHECKSUM, LOADED_AT) '
    "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP())"
)

# Replace-per-window: keep only the rows of the latest load of each window.
JOURNAL_REPLACE_SQL = """
DELETE FROM RAW.JOURNAL_COUNTS
USING (SELECT WINDOW_ID, MAX(LOADED_AT) AS LATEST FROM RAW.JOURNAL_COUNTS GROUP BY WINDOW_ID) AS L
WHERE RAW.JOURNAL_COUNTS.WINDOW_ID = L.WINDOW_ID AND RAW.JOURNAL_COUNTS.LOADED_AT < L.LATEST
""".strip()

DROP_SQL = [
    f"DROP TABLE IF EXISTS {t}" for t in (*TABLES.values(), "RAW.LOAD_AUDIT", "RAW.SCHEMA_MIGRATIONS")
]
MIGRATIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS RAW.SCHEMA_MIGRATIONS (VERSION INTEGER NOT NULL PRIMARY KEY, "
    "NAME VARCHAR NOT NULL, CHECKSUM VARCHAR NOT NULL, APPLIED_AT TIMESTAMP_TZ DEFAULT CURRENT_TIMESTAMP())"
)
