"""Page queries: one SQL file each, the same text for DuckDB (local) and Snowflake (cloud).

The marts read the same on both, so the SQL is plain; the two RAW lookups the data-quality page needs
differ by dialect (regex group, JSON field), as in dbt's macros/cross_db.sql: `{{name}}` in the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

QUERIES_DIR = Path(__file__).resolve().parents[1] / "queries"
Dialect = Literal["duckdb", "snowflake"]

_BACKFILL_FILE = "backfill-(.+)-[0-9]+[.]ndjson[.]gz$"
FRAGMENTS: dict[Dialect, dict[str, str]] = {
    "duckdb": {
        "backfill_window_id": f"nullif(regexp_extract(file_name, '{_BACKFILL_FILE}', 1), '')",
        "quarantine_window_id": "(ingest ->> '$.window_id')",
    },
    "snowflake": {
        "backfill_window_id": f"regexp_substr(file_name, '{_BACKFILL_FILE}', 1, 1, 'e', 1)",
        "quarantine_window_id": "ingest:window_id::varchar",
    },
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def names() -> list[str]:
    """Every query, as '<page>/<name>'."""
    return sorted(str(p.relative_to(QUERIES_DIR).with_suffix("")) for p in QUERIES_DIR.glob("*/*.sql"))


def sql(name: str, dialect: Dialect = "duckdb") -> str:
    """The query text for `dialect`; an unknown placeholder is an error, not an empty string."""
    text = (QUERIES_DIR / f"{name}.sql").read_text()
    fragments = FRAGMENTS[dialect]

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in fragments:
            raise KeyError(f"{name}.sql: unknown placeholder {{{{{key}}}}}")
        return fragments[key]

    return _PLACEHOLDER.sub(fill, text)
