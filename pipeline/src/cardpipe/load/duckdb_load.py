"""Load bronze files into DuckDB RAW: each batch of files and its audit rows commit in one transaction.

A killed load therefore leaves whole files or nothing, and the next run skips what the audit holds. A file
whose content changed since it was loaded (same name, other bytes) has its rows replaced in that transaction:
DELETE its rows, INSERT the new ones, update its audit row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from cardpipe.errors import ServiceUnavailable
from cardpipe.load import migrations
from cardpipe.load.fetch import LocalCopy
from cardpipe.load.plan import AuditEntry, BronzeFile, FileLoad, Kind

MIGRATIONS_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.schema_migrations (
    version integer PRIMARY KEY, name varchar NOT NULL, checksum varchar NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT current_timestamp
)
"""
RAW_TABLES = ("raw.events", "raw.quarantine", "raw.journal_counts", "raw.load_audit", "raw.schema_migrations")
TABLE_OF: dict[Kind, str] = {
    "events": "raw.events",
    "quarantine": "raw.quarantine",
    "journal_counts": "raw.journal_counts",
}

# Audit rows for the batch: row counts per file, files with no lines included (rows = 0).
AUDIT_SQL = """
INSERT OR REPLACE INTO raw.load_audit (file_name, kind, rows, checksum, loaded_at, fingerprint)
SELECT f.file_name, $kind, count(t.file_name), f.checksum, $loaded_at, f.fingerprint
FROM (
    SELECT unnest($keys::varchar[]) AS file_name, unnest($checksums::varchar[]) AS checksum,
        unnest($fingerprints::varchar[]) AS fingerprint
) AS f
LEFT JOIN {table} AS t ON t.file_name = f.file_name AND t.loaded_at = $loaded_at
GROUP BY f.file_name, f.checksum, f.fingerprint
"""
# A changed file's earlier rows, deleted in the transaction that inserts its new rows.
REPLACE_SQL = "DELETE FROM {table} WHERE file_name IN (SELECT unnest($keys::varchar[]))"
# Rewritten with the same bytes (or verified after the upgrade): record the new fingerprint and checksum.
REFRESH_SQL = "UPDATE raw.load_audit SET checksum = ?, fingerprint = ? WHERE file_name = ?"
# journal_counts are replace-per-window: a rewritten window file replaces every older row of that window.
JOURNAL_REPLACE_SQL = """
DELETE FROM raw.journal_counts
WHERE loaded_at <> $loaded_at
  AND (file_name IN (SELECT unnest($keys::varchar[]))
       OR window_id IN (SELECT window_id FROM raw.journal_counts WHERE loaded_at = $loaded_at))
"""

Fault = Callable[[int], None]


def _load_sql(kind: Kind) -> str:
    sql_file = resources.files("cardpipe.load").joinpath("sql", "duckdb", "load", f"{kind}.sql")
    return sql_file.read_text("utf-8")


class DuckDBWarehouse:
    """One connection to the warehouse file; DuckDB allows a single writer process at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise ServiceUnavailable(
                f"cannot open the DuckDB warehouse {path} ({str(exc).splitlines()[0]}): another process "
                "(dbt, a second load) may hold its lock; wait for it to finish or set WAREHOUSE_DUCKDB_PATH"
            ) from None
        self.conn.execute("SET TimeZone = 'UTC'")
        self.conn.execute("SET enable_progress_bar = false")  # ours (rich) is per file
        self._last_loaded_at = datetime.min.replace(tzinfo=UTC)
        self._sql = {kind: _load_sql(kind) for kind in TABLE_OF}

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ schema

    def migrate(self) -> list[str]:
        """Create schema raw and apply pending versioned SQL files; returns the names applied."""
        for statement in migrations.split_statements(MIGRATIONS_DDL):
            self.conn.execute(statement)
        applied = dict(self.conn.execute("SELECT version, checksum FROM raw.schema_migrations").fetchall())
        self.conn.execute("BEGIN")
        try:
            done = migrations.apply(
                migrations.discover("duckdb"),
                applied,
                self.conn.execute,
                lambda m: self.conn.execute(
                    "INSERT INTO raw.schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    [m.version, m.name, m.checksum],
                ),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return [f"V{m.version:03d}__{m.name}" for m in done]

    def drop_raw(self) -> None:
        """Drop the RAW tables and the migration record (replay rebuilds them from bronze)."""
        self.conn.execute("BEGIN")
        for table in RAW_TABLES:
            self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        self.conn.execute("COMMIT")

    def audit(self) -> dict[str, AuditEntry]:
        """file_name -> checksum and fingerprint of every audited file."""
        rows = self.conn.execute("SELECT file_name, checksum, fingerprint FROM raw.load_audit").fetchall()
        return {name: AuditEntry(checksum, fingerprint) for name, checksum, fingerprint in rows}

    def refresh(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """(file_name, checksum, fingerprint) of audited files whose rows stay as they are."""
        if not entries:
            return
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany(REFRESH_SQL, [[checksum, fp, name] for name, checksum, fp in entries])
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ loading

    def _next_loaded_at(self) -> datetime:
        """A batch stamp, strictly increasing within this process, so it identifies the batch's rows."""
        now = datetime.now(UTC)
        if now <= self._last_loaded_at:
            now = self._last_loaded_at + timedelta(microseconds=1)
        self._last_loaded_at = now
        return now

    def load_batch(
        self, files: Sequence[BronzeFile], copy: LocalCopy, fault: Fault | None = None, batch_no: int = 0
    ) -> list[FileLoad]:
        """Insert the rows of same-kind files and their audit rows in one transaction; files loaded before
        (their content changed) first lose their earlier rows, in the same transaction."""
        kind = files[0].kind
        keys = [f.key for f in files]
        replaced = [f.key for f in files if f.audited]
        loaded_at = self._next_loaded_at()
        params: dict[str, Any] = {
            "paths": [copy.path(k) for k in keys],
            "prefix_len": copy.prefix_len,
            "loaded_at": loaded_at,
        }
        self.conn.execute("BEGIN")
        try:
            if replaced:
                self.conn.execute(REPLACE_SQL.format(table=TABLE_OF[kind]), {"keys": replaced})
            self.conn.execute(self._sql[kind], params)
            if fault is not None:
                fault(batch_no)  # tests: fail between a batch's rows (and deletions) and its audit rows
            audit = {
                "kind": kind,
                "keys": keys,
                "checksums": [copy.digests[k].checksum for k in keys],
                "fingerprints": [f.fingerprint or None for f in files],
                "loaded_at": loaded_at,
            }
            if kind == "journal_counts":
                self.conn.execute(JOURNAL_REPLACE_SQL, {"keys": keys, "loaded_at": loaded_at})
            self.conn.execute(AUDIT_SQL.format(table=TABLE_OF[kind]), audit)
            rows = self.conn.execute(
                "SELECT file_name, rows, checksum, fingerprint FROM raw.load_audit WHERE loaded_at = ? "
                "ORDER BY file_name",
                [loaded_at],
            ).fetchall()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return [
            FileLoad(name, kind, int(n), checksum, fp or "", replaced=name in replaced)
            for name, n, checksum, fp in rows
        ]
