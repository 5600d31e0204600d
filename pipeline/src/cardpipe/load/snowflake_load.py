"""Load bronze into Snowflake RAW with COPY INTO from the external stage on the raw bucket.

The infrastructure stack owns RAW's DDL (tables from `cardpipe.contracts.raw_tables`, file format, stage);
the loader, as LOADER, creates and drops nothing. Before loading it verifies that RAW matches raw_tables and
that the stage points at the bronze root, and fails fast naming what differs and what to run.

What to load comes from RAW.LOAD_AUDIT and the bucket listing, as on DuckDB: new objects, and audited ones
whose listing fingerprint (size + ETag) changed and whose bytes, hashed by the loader (sha256, never the ETag:
under SSE-KMS it is not an MD5), differ from the audit's checksum. Per kind, one transaction: DELETE the
changed files' rows, COPY the new files (FILES, LOAD_UNCERTAIN_FILES) and the changed ones (FILES, FORCE),
the audit rows built from COPY's per-file result rows, the fingerprint refresh of files rewritten with the
same bytes, and for journal_counts the replace-per-window clean-up. A failed COPY (ON_ERROR =
ABORT_STATEMENT) rolls the transaction back, deletions and load metadata included; the next run retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import snowflake.connector
from cryptography.hazmat.primitives import serialization

from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import ConfigError, Settings, SnowflakeSettings
from cardpipe.contracts import names
from cardpipe.errors import ServiceUnavailable
from cardpipe.load import snowflake_sql as sql
from cardpipe.load.fetch import content_digests, list_objects
from cardpipe.load.plan import (
    KINDS,
    PREFIXES,
    AuditEntry,
    BronzeFile,
    Digests,
    FileLoad,
    Kind,
    LoadResult,
    plan_load,
    same_content,
)
from cardpipe.logs import get_logger

log = get_logger("cardpipe.load.snowflake")


class CopyIncomplete(Exception):
    """COPY reported a file it did not load fully; the transaction (and its load metadata) was rolled back."""


class RawSchemaMismatch(ConfigError):
    """RAW on Snowflake is not what raw_tables declares; the infrastructure, not the loader, must fix it."""


def _private_key_bytes(settings: SnowflakeSettings) -> tuple[bytes, str]:
    """The PEM bytes and where they came from (for messages: a variable or file name, never the key)."""
    if settings.private_key and settings.private_key_path:
        raise ConfigError(
            "set exactly one of SNOWFLAKE_PRIVATE_KEY (the PEM text, e.g. from a secret) and "
            "SNOWFLAKE_PRIVATE_KEY_PATH (a PEM file), not both"
        )
    if settings.private_key:
        text = settings.private_key
        # A PEM passed through a single-line variable often arrives with literal \n sequences.
        if "\\n" in text and "\n" not in text.strip():
            text = text.replace("\\n", "\n")
        return text.encode(), "SNOWFLAKE_PRIVATE_KEY"
    assert settings.private_key_path is not None
    path = settings.private_key_path.expanduser()
    try:
        return path.read_bytes(), f"the file {path} (SNOWFLAKE_PRIVATE_KEY_PATH)"
    except OSError as exc:
        raise ConfigError(
            f"cannot read the Snowflake private key file {path} ({exc.__class__.__name__}); check "
            "SNOWFLAKE_PRIVATE_KEY_PATH, or set SNOWFLAKE_PRIVATE_KEY to the PEM text instead"
        ) from None


def private_key_der(settings: SnowflakeSettings) -> bytes:
    """The decrypted key as PKCS#8 DER, what the connector takes. Errors name the setting, not the key."""
    pem, source = _private_key_bytes(settings)
    try:
        passphrase = settings.private_key_passphrase.encode() if settings.private_key_passphrase else None
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the Snowflake private key from {source} ({exc.__class__.__name__}: not a PEM "
            "private key, or the passphrase is wrong or missing); check it and "
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
        ) from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def connect(settings: SnowflakeSettings) -> Any:
    """Key-pair authentication only; the key is read here and never logged."""
    missing = [
        name
        for name, value in (
            ("SNOWFLAKE_ACCOUNT", settings.account),
            ("SNOWFLAKE_USER", settings.user),
            ("SNOWFLAKE_DATABASE", settings.database),
            (
                "SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_PRIVATE_KEY",
                settings.private_key_path or settings.private_key,
            ),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"WAREHOUSE_KIND=snowflake needs {', '.join(missing)} (key-pair auth, no passwords)"
        )
    der = private_key_der(settings)
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


def apply_hint(database: str | None) -> str:
    """The command that (re)creates RAW's objects for the environment of `database`."""
    wanted = (database or "").upper()
    env = next((e for e in names.ENVIRONMENTS if names.snowflake_database(e) == wanted), None)
    return f"make apply ENV={env or '<env>'}"


class SnowflakeWarehouse:
    """RAW bookkeeping on a Snowflake (or fakesnow) connection."""

    def __init__(
        self,
        conn: Any,
        *,
        stage: str,
        file_format: str,
        bronze_s3_prefix: str = "",
        bronze_s3_bucket: str | None = None,
        store: BronzeStore | None = None,
    ) -> None:
        self.conn = conn
        # Where the loader lists and hashes bronze (the stage's bucket); COPY reads the stage itself.
        self.store = store
        self.stage = stage
        self.file_format = file_format
        self.root = sql.stage_root(bronze_s3_prefix)
        # What the stage URL must be; unknown (not checked) when the loader is not told the bucket.
        self.expected_stage_url = (
            names.stage_url(bronze_s3_bucket, bronze_s3_prefix) if bronze_s3_bucket else None
        )

    def _run(self, statement: str, params: Any = None) -> Any:
        cur = self.conn.cursor()
        cur.execute(statement, params)
        return cur

    def _database(self) -> str | None:
        row = self._run("SELECT CURRENT_DATABASE()").fetchone()
        return str(row[0]) if row and row[0] else None

    def verify(self) -> None:
        """Fail fast, before anything is loaded, if RAW or the stage is not what this loader was built for."""
        found = sql.info_columns(self._run(sql.verify_sql()).fetchall())
        problems = sql.schema_problems(found)
        problems += self._stage_problems()
        if problems:
            database = self._database()
            raise RawSchemaMismatch(
                f"Snowflake {database}.{names.RAW_SCHEMA} does not match what the loader needs: "
                + "; ".join(problems)
                + f". The infrastructure owns RAW's tables, file format and stage: run "
                f"`{apply_hint(database)}` (the loader never creates or alters them)"
            )

    def _stage_problems(self) -> list[str]:
        cur = self._run(sql.stage_sql(self.stage))
        cols = [d[0].lower() for d in cur.description]
        name = self.stage.rsplit(".", 1)[-1].upper()
        # LIKE's `_` matches any character: keep the stage of exactly this name.
        rows = [r for r in (dict(zip(cols, row, strict=True)) for row in cur.fetchall()) if r["name"] == name]
        if not rows:
            return [f"stage {self.stage} is missing (or LOADER has no USAGE on it)"]
        url = str(rows[0].get("url") or "")
        if self.expected_stage_url and url.rstrip("/") != self.expected_stage_url.rstrip("/"):
            return [
                f"stage {self.stage} points at {url or 'nothing'}, expected the bronze root "
                f"{self.expected_stage_url} (from BRONZE_S3_BUCKET and BRONZE_S3_PREFIX)"
            ]
        return []

    def truncate_raw(self) -> None:
        """Replay: empty every RAW table. TRUNCATE also clears COPY's load metadata, so every file reloads;
        the tables, their defaults and their grants stay as the infrastructure made them."""
        for statement in sql.TRUNCATE_SQL:
            self._run(statement)

    def audit(self) -> dict[str, AuditEntry]:
        return {
            str(name): AuditEntry(checksum, fingerprint)
            for name, checksum, fingerprint in self._run(sql.AUDIT_SELECT_SQL).fetchall()
        }

    def record(self, kind: Kind, loads: list[FileLoad]) -> None:
        """Audit rows for loaded files (replacing a reloaded file's); the caller owns the transaction."""
        if not loads:
            return
        self._run(sql.audit_delete_sql(len(loads)), [x.file_name for x in loads])
        self.conn.cursor().executemany(
            sql.AUDIT_INSERT_SQL,
            [(x.file_name, kind, x.rows, x.checksum, x.fingerprint or None) for x in loads],
        )

    def refresh(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """(file_name, checksum, fingerprint) of audited files whose rows stay; the caller owns the
        transaction."""
        if entries:
            self.conn.cursor().executemany(
                sql.AUDIT_REFRESH_SQL, [(checksum, fp, name) for name, checksum, fp in entries]
            )

    def load_kind(
        self,
        kind: Kind,
        new: Sequence[BronzeFile],
        changed: Sequence[BronzeFile],
        digests: dict[str, Digests],
        *,
        same: Sequence[tuple[str, str, str]] = (),
        fault: Callable[[Kind], None] | None = None,
    ) -> sql.CopyOutcome:
        """One kind in one transaction: delete the changed files' rows, COPY new and changed files, record."""
        if not (new or changed or same):
            return sql.CopyOutcome([], {})
        checksums = {f.key: digests[f.key].checksum for f in [*new, *changed]}
        fingerprints = {f.key: f.fingerprint for f in [*new, *changed]}
        replaced = {f.key for f in changed}
        loads: list[FileLoad] = []
        problems: dict[str, str] = {}
        self._run("BEGIN")
        try:
            changed_keys = [f.key for f in changed]
            for part in _chunks(changed_keys):
                self._run(sql.delete_rows_sql(kind, len(part)), part)
            for files, force in (([f.key for f in new], False), (changed_keys, True)):
                for part in _chunks(files):
                    cur = self._run(
                        sql.copy_sql(
                            kind, self.stage, self.file_format, root=self.root, keys=part, force=force
                        )
                    )
                    outcome = sql.parse_copy_result(
                        kind,
                        [d[0] for d in cur.description],
                        cur.fetchall(),
                        checksums,
                        root=self.root,
                        fingerprints=fingerprints,
                        replaced=replaced,
                        expected=part,
                    )
                    loads += outcome.loads
                    problems |= outcome.problems
            if problems:
                raise CopyIncomplete(f"COPY INTO {sql.TABLES[kind]} did not load every file: {problems}")
            if fault is not None:
                fault(kind)  # tests: fail after the deletions and COPYs, before the audit rows
            self.finish_kind(kind, loads)
            self.refresh(same)
            self._run("COMMIT")
        except BaseException:
            self._run("ROLLBACK")
            raise
        return sql.CopyOutcome(loads, problems)

    def finish_kind(self, kind: Kind, loads: list[FileLoad]) -> None:
        """What follows a kind's COPY inside its transaction: replace-per-window, then the audit rows."""
        if kind == "journal_counts" and loads:
            self._run(sql.JOURNAL_REPLACE_SQL)
        self.record(kind, loads)


def _chunks(keys: Sequence[str]) -> list[list[str]]:
    return [list(keys[i : i + sql.MAX_COPY_FILES]) for i in range(0, len(keys), sql.MAX_COPY_FILES)]


def run_snowflake_load(settings: Settings, *, replay: bool = False) -> LoadResult:
    """Plan from the audit and the bucket listing, then COPY each kind (see the module docstring)."""
    started = time.monotonic()
    conn = connect(settings.snowflake)
    try:
        if settings.bronze.backend != "s3":
            raise ConfigError(
                "WAREHOUSE_KIND=snowflake loads from the stage on the raw bucket: set BRONZE_BACKEND=s3 and "
                "BRONZE_S3_BUCKET (the loader lists and hashes the objects there)"
            )
        try:
            warehouse = SnowflakeWarehouse(
                conn,
                stage=settings.snowflake.stage,
                file_format=settings.snowflake.file_format,
                bronze_s3_prefix=settings.bronze.s3_prefix,
                bronze_s3_bucket=settings.bronze.s3_bucket,
                store=open_store(settings.bronze),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        result = load_into(warehouse, replay=replay, database=settings.snowflake.database)
    finally:
        conn.close()
    log.info(
        "load.finished",
        files_loaded=result.files_loaded,
        files_replaced=result.files_replaced,
        files_verified=result.files_verified,
        files_skipped=result.files_skipped,
        rows=result.rows_loaded,
        seconds=round(time.monotonic() - started, 3),
    )
    return result


def load_into(
    warehouse: SnowflakeWarehouse,
    *,
    replay: bool = False,
    database: str | None = None,
    fault: Callable[[Kind], None] | None = None,
) -> LoadResult:
    """Verify RAW, empty it on replay, plan, hash what must be read, then load each kind (one transaction
    each)."""
    warehouse.verify()
    if warehouse.store is None:
        raise ConfigError("the Snowflake loader needs the bronze store to list and hash objects")
    if replay:
        warehouse.truncate_raw()
        log.warning("replay.truncated_raw", database=database)
    listing = list_objects(warehouse.store, [PREFIXES[kind] for kind in KINDS])
    plan = plan_load(listing, warehouse.audit())
    result = LoadResult(files_seen=len(listing), files_skipped=plan.unchanged)
    if plan.adopt:
        # Audit rows from before fingerprints whose ETag is still the one recorded: unchanged, not read.
        warehouse._run("BEGIN")
        warehouse.refresh(plan.adopt)
        warehouse._run("COMMIT")
    todo = plan.todo
    digests = content_digests(warehouse.store, [f.key for f in todo])
    log.info(
        "load.planned",
        files_seen=len(listing),
        files_new=len(plan.new),
        files_rechecked=len(plan.recheck),
        files_adopted=len(plan.adopt),
        files_skipped=plan.unchanged,
    )
    for kind in KINDS:
        new = [f for f in plan.new if f.kind == kind]
        recheck = [f for f in plan.recheck if f.kind == kind]
        same = [f for f in recheck if same_content(f.previous, digests[f.key])]
        changed = [f for f in recheck if f not in same]
        outcome = warehouse.load_kind(
            kind,
            new,
            changed,
            digests,
            same=[(f.key, digests[f.key].checksum, f.fingerprint) for f in same],
            fault=fault,
        )
        result.add(outcome.loads)
        result.files_skipped += len(same)
        result.files_verified += len(same)
        log.info(
            "load.copied",
            kind=kind,
            files=len(outcome.loads),
            files_replaced=len(changed),
            files_verified=len(same),
            rows=sum(x.rows for x in outcome.loads),
        )
    return result
