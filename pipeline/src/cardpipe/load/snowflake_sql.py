"""Snowflake load SQL, built and parsed without a connection (so it is unit-testable).

Who owns what: the infrastructure stack creates the RAW tables (from `cardpipe.contracts.raw_tables`), the
file format and the external stage; the loader (role LOADER) creates nothing. It verifies RAW against
raw_tables (`verify_sql` + `schema_problems`), COPYs from the stage, keeps `RAW.LOAD_AUDIT`, and on replay
TRUNCATEs.

ON_ERROR policy: ABORT_STATEMENT for every kind. Bronze lines were already validated at ingestion (bad
events sit in quarantine), so a line COPY cannot parse means a damaged object: aborting fails the task
loudly and loads nothing from that statement, instead of CONTINUE/SKIP_FILE silently dropping events.

What is loaded: the loader decides, from RAW.LOAD_AUDIT and the bucket listing (not COPY's 64-day load
metadata, which would load a rewritten object a second time next to its old rows): COPY names the files in
FILES. New files: LOAD_UNCERTAIN_FILES (the metadata still refuses a file it knows it loaded). Files whose
content changed: DELETE of their rows and COPY with FORCE in one transaction.

Paths: the stage URL is the bronze root (`names.stage_url`), so a kind's files are read from
`@stage/<names.stage_path(prefix)>` and FILES are paths relative to it. FILE_NAME in RAW is the bronze
key, as the DuckDB loader writes it: `bronze_key` / `file_name_sql` turn any of the three spellings a file
can come back in (the COPY result's URL `s3://bucket/<prefix>/raw/<path>`, the bucket-relative
`<prefix>/raw/<path>`, the stage-relative `<path>`) into `raw/<path>`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardpipe.contracts import names, raw_tables
from cardpipe.load.plan import PREFIXES, FileLoad, Kind

RAW_TABLES: dict[Kind, raw_tables.RawTable] = {
    "events": raw_tables.EVENTS,
    "quarantine": raw_tables.QUARANTINE,
    "journal_counts": raw_tables.JOURNAL_COUNTS,
}
TABLES: dict[Kind, str] = {kind: table.qualified for kind, table in RAW_TABLES.items()}
AUDIT_TABLE = raw_tables.LOAD_AUDIT.qualified
JOURNAL_TABLE = raw_tables.JOURNAL_COUNTS.qualified
FILE_NAME_COLUMN = "FILE_NAME"

# Target column -> expression over the staged JSON document $1 (FILE_NAME comes from file_name_sql; LOADED_AT
# is left to its column default, the statement's time). Checked against raw_tables by the tests.
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
    ],
    "journal_counts": [
        ("WINDOW_ID", "$1:window_id::VARCHAR"),
        ("SINCE", "$1:since::TIMESTAMP_TZ"),
        ("UNTIL", "$1:until::TIMESTAMP_TZ"),
        ("EVENT_TYPE", "$1:event_type::VARCHAR"),
        ("JOURNAL_ROWS", "$1:journal_rows::NUMBER"),
        ("JOURNAL_DISTINCT_EVENT_IDS", "$1:journal_distinct_event_ids::NUMBER"),
        ("CAPTURED_AT", "$1:captured_at::TIMESTAMP_TZ"),
    ],
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
# What BRONZE_S3_PREFIX may hold to be spliced into a string literal (S3 allows more; we need no more).
_PREFIX = re.compile(r"^[A-Za-z0-9_.=/-]*$")


def _identifier(name: str, what: str) -> str:
    """Stage and file format names come from settings and are spliced into SQL: allow plain names only."""
    if not _IDENTIFIER.match(name):
        raise ValueError(
            f"{what} {name!r} is not a plain [DB.]SCHEMA.NAME identifier; fix SNOWFLAKE_* settings"
        )
    return name


def stage_root(bronze_s3_prefix: str) -> str:
    """Where the stage URL points inside the bucket: `[<prefix>/]raw/` (names.stage_url minus s3://bucket/)."""
    if not _PREFIX.match(bronze_s3_prefix) or ".." in bronze_s3_prefix:
        raise ValueError(
            f"BRONZE_S3_PREFIX {bronze_s3_prefix!r} may only hold letters, digits and _ . = / -; fix it"
        )
    return names.stage_url("bucket", bronze_s3_prefix).removeprefix("s3://bucket/")


def stage_location(kind: Kind, stage: str) -> str:
    """`@RAW.BRONZE_STAGE/events/`: the kind's bronze prefix as a path inside the stage."""
    return f"@{_identifier(stage, 'stage')}/{names.stage_path(PREFIXES[kind])}"


def file_name_sql(source: str, root: str) -> str:
    """SQL turning a stage-relative or bucket-relative path (`source`, METADATA$FILENAME in COPY) into the
    bronze key: strip the stage root if present, then put the bronze root in front."""
    if not _PREFIX.match(root):
        raise ValueError(f"stage root {root!r} is not a plain path")
    return (
        f"CONCAT('{names.BRONZE_ROOT}', IFF(STARTSWITH({source}, '{root}'), "
        f"SUBSTR({source}, {len(root) + 1}), {source}))"
    )


def bronze_key(name: str, root: str) -> str:
    """The bronze key of a file as COPY's `file` or LIST's `name` column spells it (a full `s3://` URL), or
    as a stage- or bucket-relative path: file_name_sql's mapping, plus dropping a URL's scheme and bucket."""
    path = name
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    if path.startswith(root):
        path = path[len(root) :]
    return names.BRONZE_ROOT + path


def copy_columns(kind: Kind) -> list[str]:
    return [col for col, _ in _PROJECTIONS[kind]] + [FILE_NAME_COLUMN]


# COPY takes at most 1,000 names in FILES.
MAX_COPY_FILES = 1000


def stage_file(kind: Kind, key: str) -> str:
    """A bronze key as a FILES entry: its path relative to the kind's location in the stage, as a literal."""
    prefix = PREFIXES[kind]
    if not key.startswith(prefix):
        raise ValueError(f"bronze key {key!r} is not under {prefix!r}")
    path = key[len(prefix) :].replace("\\", "\\\\").replace("'", "\\'")
    return f"'{path}'"


def copy_sql(kind: Kind, stage: str, file_format: str, *, root: str, keys: Sequence[str], force: bool) -> str:
    """COPY INTO the kind's RAW table exactly the named bronze files; LOADED_AT is left to the column default.

    New files (`force=False`) take LOAD_UNCERTAIN_FILES: the audit, not COPY's 64-day load metadata, knows
    they were never loaded, and the metadata still refuses a file it knows it loaded. Changed files
    (`force=True`, after their rows were deleted in the same transaction) are loaded again whatever the
    metadata says.
    """
    if not keys or len(keys) > MAX_COPY_FILES:
        raise ValueError(f"COPY takes 1 to {MAX_COPY_FILES} files, got {len(keys)}")
    exprs = [expr for _, expr in _PROJECTIONS[kind]] + [file_name_sql("METADATA$FILENAME", root)]
    select = ",\n        ".join(exprs)
    files = ", ".join(stage_file(kind, key) for key in keys)
    option = "FORCE = TRUE" if force else "LOAD_UNCERTAIN_FILES = TRUE"
    return (
        f"COPY INTO {TABLES[kind]} ({', '.join(copy_columns(kind))})\n"
        f"FROM (\n    SELECT\n        {select}\n    FROM {stage_location(kind, stage)}\n)\n"
        f"FILES = ({files})\n"
        f"FILE_FORMAT = (FORMAT_NAME = '{_identifier(file_format, 'file format')}')\n"
        f"ON_ERROR = ABORT_STATEMENT\n"
        f"{option}"
    )


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    loads: list[FileLoad]
    problems: dict[str, str]


def parse_copy_result(
    kind: Kind,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    checksums: Mapping[str, str],
    *,
    root: str,
    fingerprints: Mapping[str, str] | None = None,
    replaced: Collection[str] = (),
    expected: Collection[str] = (),
) -> CopyOutcome:
    """Turn COPY's result rows (one per file) into audit records; anything not LOADED is a problem, and so is
    an `expected` file COPY did not report (its load metadata says it was loaded, the audit does not).

    With no files loaded COPY returns a single row whose only column is a status message: no loads.
    """
    cols = [c.lower() for c in columns]
    loads: list[FileLoad] = []
    problems: dict[str, str] = {}
    for row in rows if "file" in cols else []:
        record = dict(zip(cols, row, strict=True))
        key = bronze_key(str(record["file"]), root)
        status = str(record.get("status", "")).upper()
        if status == "LOADED":
            loads.append(
                FileLoad(
                    key,
                    kind,
                    int(record.get("rows_loaded") or 0),
                    checksums.get(key, ""),
                    (fingerprints or {}).get(key, ""),
                    replaced=key in replaced,
                )
            )
        else:
            problems[key] = f"{status}: {record.get('first_error')}"
    reported = {x.file_name for x in loads} | set(problems)
    for key in expected:
        if key not in reported:
            problems[key] = (
                "SKIPPED: COPY's load metadata says it was loaded but RAW.LOAD_AUDIT has no row for it "
                "(another writer of RAW?); `cardpipe replay` reloads RAW from bronze"
            )
    return CopyOutcome(loads, problems)


def delete_rows_sql(kind: Kind, count: int) -> str:
    """A changed file's earlier rows, deleted in the transaction that COPYs it again."""
    placeholders = ", ".join(["%s"] * count)
    return f"DELETE FROM {TABLES[kind]} WHERE {FILE_NAME_COLUMN} IN ({placeholders})"


def audit_delete_sql(count: int) -> str:
    placeholders = ", ".join(["%s"] * count)
    return f"DELETE FROM {AUDIT_TABLE} WHERE FILE_NAME IN ({placeholders})"


AUDIT_SELECT_SQL = f"SELECT FILE_NAME, CHECKSUM, FINGERPRINT FROM {AUDIT_TABLE}"
AUDIT_INSERT_SQL = (
    f'INSERT INTO {AUDIT_TABLE} (FILE_NAME, KIND, "ROWS", CHECKSUM, FINGERPRINT, LOADED_AT) '
    "VALUES (%s, %s, %s, %s, %s, CURRENT_TIMESTAMP())"
)
# Rewritten with the same bytes (or adopted after the upgrade): the rows stay, the fingerprint is refreshed.
AUDIT_REFRESH_SQL = f"UPDATE {AUDIT_TABLE} SET CHECKSUM = %s, FINGERPRINT = %s WHERE FILE_NAME = %s"

# Replace-per-window: keep only the rows of the latest load of each window.
JOURNAL_REPLACE_SQL = f"""
DELETE FROM {JOURNAL_TABLE}
USING (SELECT WINDOW_ID, MAX(LOADED_AT) AS LATEST FROM {JOURNAL_TABLE} GROUP BY WINDOW_ID) AS L
WHERE {JOURNAL_TABLE}.WINDOW_ID = L.WINDOW_ID AND {JOURNAL_TABLE}.LOADED_AT < L.LATEST
""".strip()

# Replay: TRUNCATE keeps the (infrastructure-owned) tables and their grants, and clears COPY's load metadata,
# so every file is loaded again. The loader never drops or creates a table on Snowflake.
TRUNCATE_SQL = [f"TRUNCATE TABLE {t.qualified}" for t in raw_tables.TABLES]

# --------------------------------------------------------------------------- schema verification


def verify_sql() -> str:
    """Columns of the RAW tables as the session's role sees them (INFORMATION_SCHEMA of the current database
    lists only objects the role has a privilege on, so a table LOADER may not use reads as missing)."""
    tables = ", ".join(f"'{t.name}'" for t in raw_tables.TABLES)
    return (
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, NUMERIC_PRECISION, "
        "NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS "
        f"WHERE TABLE_SCHEMA = '{names.RAW_SCHEMA}' AND TABLE_NAME IN ({tables}) "
        "ORDER BY TABLE_NAME, ORDINAL_POSITION"
    )


# Declared type -> INFORMATION_SCHEMA.COLUMNS.DATA_TYPE (Snowflake reports synonyms by their canonical name).
_CANONICAL = {"VARCHAR": "TEXT", "STRING": "TEXT", "CHAR": "TEXT", "INTEGER": "NUMBER", "INT": "NUMBER"}


def _expected_type(declared: str) -> tuple[str, int | None]:
    base, _, args = declared.upper().partition("(")
    scale = int(args.rstrip(")").split(",")[1]) if "," in args else None
    if base.strip() in {"INTEGER", "INT"}:
        scale = 0
    return _CANONICAL.get(base.strip(), base.strip()), scale


def _default_key(expression: str) -> str:
    return re.sub(r"[\s()]", "", expression).upper()


@dataclass(frozen=True, slots=True)
class InfoColumn:
    table: str
    column: str
    data_type: str
    nullable: bool
    default: str | None
    scale: int | None


def info_columns(rows: Iterable[Sequence[Any]]) -> list[InfoColumn]:
    return [
        InfoColumn(
            str(t).upper(),
            str(c).upper(),
            str(dt).upper(),
            str(n).upper() == "YES",
            None if d is None else str(d),
            None if s is None else int(s),
        )
        for t, c, dt, n, d, _p, s in rows
    ]


def schema_problems(found: Iterable[InfoColumn]) -> list[str]:
    """Each difference between RAW as found and raw_tables that would make a load fail or write wrong rows."""
    by_table: dict[str, dict[str, InfoColumn]] = {}
    for col in found:
        by_table.setdefault(col.table, {})[col.column] = col
    problems: list[str] = []
    for table in raw_tables.TABLES:
        have = by_table.get(table.name)
        if not have:
            problems.append(f"table {table.qualified} is missing (or LOADER has no privilege on it)")
            continue
        for want in table.columns:
            got = have.get(want.name)
            where = f"{table.qualified}.{want.name}"
            if got is None:
                problems.append(f"column {where} is missing")
                continue
            data_type, scale = _expected_type(want.snowflake_type)
            if got.data_type != data_type or (scale is not None and got.scale != scale):
                got_type = got.data_type + (f"(scale {got.scale})" if got.scale is not None else "")
                problems.append(f"column {where} is {got_type}, expected {want.snowflake_type}")
            if not want.nullable and got.nullable:
                problems.append(f"column {where} allows NULL, expected NOT NULL")
            if want.default is not None and (
                got.default is None or _default_key(got.default) != _default_key(want.default)
            ):
                problems.append(
                    f"column {where} has default {got.default or 'none'}, expected {want.default} "
                    "(COPY leaves it out and relies on the default)"
                )
        declared = {c.name for c in table.columns}
        for name, extra in have.items():
            if name not in declared and not extra.nullable and extra.default is None:
                problems.append(f"column {table.qualified}.{name} is NOT NULL without a default: loads fail")
    return problems


def stage_sql(stage: str) -> str:
    """The stage's row in SHOW STAGES (its URL must be the bronze root)."""
    *schema, name = _identifier(stage, "stage").split(".")
    scope = f" IN SCHEMA {'.'.join(schema)}" if schema else ""
    return f"SHOW STAGES LIKE '{name.upper()}'{scope}"
