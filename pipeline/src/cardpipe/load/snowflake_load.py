"""Load bronze into Snowflake RAW with COPY INTO from the external stage on the raw bucket.

Per kind, one transaction: COPY (which skips files in its load metadata), the audit rows built from
COPY's per-file result rows, and for journal_counts the replace-per-window clean-up. A failed COPY
(ON_ERROR = ABORT_STATEMENT) rolls the transaction back, load metadata included, so the next run retries.
"""

from __future__ import annotations

import time
from typing import Any

import snowflake.connector
from cryptography.hazmat.primitives import serialization

from cardpipe.config import ConfigError, Settings, SnowflakeSettings
from cardpipe.errors import ServiceUnavailable
from cardpipe.load import migrations
from cardpipe.load import snowflake_sql as sql
from cardpipe.load.plan import KINDS, FileLoad, Kind, LoadResult
from cardpipe.logs import get_logger

log = get_logger("cardpipe.load.snowflake")


class CopyIncomplete(Exception):
    """COPY reported a file it did not load fully; the transaction (and its load metadata) was rolled back."""


def connect(settings: SnowflakeSettings) -> Any:
    """Key-pair authentication only; the key file is read here and never logged."""
    missing = [
        name
        for name, value in (
            ("SNOWFLAKE_ACCOUNT", settings.account),
            ("SNOWFLAKE_USER", settings.user),
            ("SNOWFLAKE_DATABASE", settings.database),
            ("SNOWFLAKE_PRIVATE_KEY_PATH", settings.private_key_path),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"WAREHOUSE_KIND=snowflake needs {', '.join(missing)} (key-pair auth, no passwords)"
        )
    assert settings.private_key_path is not None
    key_path = settings.private_key_path.expanduser()
    try:
        passphrase = settings.private_key_passphrase.encode() if settings.private_key_passphrase else None
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=passphrase)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the Snowflake private key {key_path} ({exc.__class__.__name__}); check "
            "SNOWFLAKE_PRIVATE_KEY_PATH and SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
        ) from None
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        return snowflake.connector.connect(
            account=settings.account,
            user=settings.user,
            private_key=der,
            role=settings.role,
            warehouse=settings.warehouse,
            database=settings.database,
            schema=settings.schema_,
            application="cardpipe-load",
        )
    except snowflake.connector.errors.DatabaseError as exc:
        raise ServiceUnavailable(
            f"Snowflake rejected or could not be reached for account {settings.account} "
            f"({exc.__class__.__name__}: {str(exc).splitlines()[0]}); check SNOWFLAKE_* settings, the key "
            "registered for the user, and network access"
        ) from None


class SnowflakeWarehouse:
    """RAW bookkeeping on a Snowflake (or fakesnow) connection."""

    def __init__(self, conn: Any, *, stage: str, file_format: str) -> None:
        self.conn = conn
        self.stage = stage
        self.file_format = file_format

    def _run(self, statement: str, params: Any = None) -> Any:
        cur = self.conn.cursor()
        cur.execute(statement, params)
        return cur

    def migrate(self) -> list[str]:
        self._run("CREATE SCHEMA IF NOT EXISTS RAW")
        self._run(sql.MIGRATIONS_DDL)
        applied = dict(self._run("SELECT VERSION, CHECKSUM FROM RAW.SCHEMA_MIGRATIONS").fetchall())
        done = migrations.apply(
            migrations.discover("snowflake"),
            applied,
            self._run,
            lambda m: self._run(
                "INSERT INTO RAW.SCHEMA_MIGRATIONS (VERSION, NAME, CHECKSUM) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            ),
        )
        return [f"V{m.version:03d}__{m.name}" for m in done]

    def drop_raw(self) -> None:
        """Dropping a table also drops its COPY load metadata, so replay reloads every file."""
        for statement in sql.DROP_SQL:
            self._run(statement)

    def checksums(self, kind: Kind) -> dict[str, str]:
        cur = self._run(sql.list_sql(kind, self.stage))
        names = [d[0].lower() for d in cur.description]
        return {
            sql.relative_key(str(r["name"]), kind): str(r["md5"])
            for r in (dict(zip(names, row, strict=True)) for row in cur.fetchall())
        }

    def record(self, kind: Kind, loads: list[FileLoad]) -> None:
        """Audit rows for loaded files (replacing a reloaded file's); the caller owns the transaction."""
        if not loads:
            return
        self._run(sql.audit_delete_sql(len(loads)), [x.file_name for x in loads])
        self.conn.cursor().executemany(
            sql.AUDIT_INSERT_SQL, [(x.file_name, kind, x.rows, x.checksum) for x in loads]
        )

    def load_kind(self, kind: Kind, *, load_uncertain_files: bool = False) -> sql.CopyOutcome:
        """COPY one kind and record its audit rows in the same transaction."""
        checksums = self.checksums(kind)
        self._run("BEGIN")
        try:
            cur = self._run(
                sql.copy_sql(kind, self.stage, self.file_format, load_uncertain_files=load_uncertain_files)
            )
            outcome = sql.parse_copy_result(kind, [d[0] for d in cur.description], cur.fetchall(), checksums)
            if outcome.problems:
                raise CopyIncomplete(
                    f"COPY INTO {sql.TABLES[kind]} did not load every file: {outcome.problems}"
                )
            if kind == "journal_counts" and outcome.loads:
                self._run(sql.JOURNAL_REPLACE_SQL)
            self.record(kind, outcome.loads)
            self._run("COMMIT")
        except BaseException:
            self._run("ROLLBACK")
            raise
        return outcome


def run_snowflake_load(settings: Settings, *, replay: bool = False) -> LoadResult:
    """COPY every kind; Snowflake's load metadata decides what is new (no FORCE)."""
    started = time.monotonic()
    conn = connect(settings.snowflake)
    result = LoadResult()
    try:
        warehouse = SnowflakeWarehouse(
            conn, stage=settings.snowflake.stage, file_format=settings.snowflake.file_format
        )
        if replay:
            warehouse.drop_raw()
            log.warning("replay.dropped_raw", database=settings.snowflake.database)
        applied = warehouse.migrate()
        if applied:
            log.info("load.migrated", applied=applied)
        for kind in KINDS:
            # After replay the tables (and their load metadata) are new: files older than 64 days have an
            # uncertain load status and would be skipped, so replay loads them explicitly.
            outcome = warehouse.load_kind(kind, load_uncertain_files=replay)
            result.add(outcome.loads)
            log.info(
                "load.copied", kind=kind, files=len(outcome.loads), rows=sum(x.rows for x in outcome.loads)
            )
    finally:
        conn.close()
    result.files_seen = result.files_loaded
    log.info(
        "load.finished",
        files_loaded=result.files_loaded,
        rows=result.rows_loaded,
        seconds=round(time.monotonic() - started, 3),
    )
    return result
