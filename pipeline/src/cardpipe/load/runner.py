"""`run_load` and `run_replay`: bronze -> warehouse RAW, the entry points of the CLI and Airflow."""

from __future__ import annotations

import time
from collections.abc import Callable

import duckdb
from botocore.exceptions import BotoCoreError, ClientError

from cardpipe.bronze.store import BronzeStore, LocalStore, open_store
from cardpipe.config import Settings
from cardpipe.errors import ServiceUnavailable
from cardpipe.load.duckdb_load import DuckDBWarehouse
from cardpipe.load.fetch import list_objects, local_copy
from cardpipe.load.plan import KINDS, PREFIXES, BronzeFile, LoadResult, batches, plan_load, same_content
from cardpipe.logs import get_logger

log = get_logger("cardpipe.load")

# A batch is one read_json statement and one transaction: big enough to amortise the per-statement cost,
# small enough that a failure retries little and memory stays bounded.
MAX_BATCH_FILES = 200
MAX_BATCH_BYTES = 128 * 1024 * 1024
# S3 listings give no sizes here, and a batch is downloaded to local disk first: keep remote batches smaller.
MAX_REMOTE_BATCH_FILES = 50

Progress = Callable[[int, int], None]  # (files done in this call, files to do)


class LoadError(Exception):
    """Some bronze files could not be loaded; they stay in bronze (unaudited) and are retried next run."""

    def __init__(self, result: LoadResult) -> None:
        listed = "; ".join(f"{key}: {why}" for key, why in sorted(result.failed.items())[:5])
        super().__init__(
            f"{len(result.failed)} bronze file(s) could not be loaded and will be retried on the next run "
            f"({listed}); fix or move the bad object(s), everything else was loaded"
        )
        self.result = result


def run_load(
    settings: Settings,
    *,
    progress: Progress | None = None,
    fault: Callable[[int], None] | None = None,
    max_batch_files: int = MAX_BATCH_FILES,
    replay: bool = False,
) -> LoadResult:
    """Load every new bronze file into RAW; raises LoadError (after loading the rest) if a file is bad.

    An audited file is read again only when its listing fingerprint changed; if its content checksum differs
    from the audit's, its rows are replaced (one transaction), otherwise only the fingerprint is refreshed.

    `progress(done, total)` is called after each batch; `fault(batch_no)` is a test hook called inside each
    batch's transaction, after its rows were inserted (and a changed file's earlier rows deleted) and before
    its audit rows, to prove a crash there loses nothing.
    """
    store = open_store(settings.bronze)
    if settings.warehouse.kind == "snowflake":
        # Imported on use: the Snowflake connector is slow to import and only the cloud needs it.
        from cardpipe.load.snowflake_load import run_snowflake_load  # noqa: PLC0415

        return run_snowflake_load(settings, replay=replay)
    try:
        return _run_duckdb(
            settings,
            store=store,
            progress=progress,
            fault=fault,
            max_batch_files=max_batch_files,
            replay=replay,
        )
    except (BotoCoreError, ClientError) as exc:
        # Nothing of the failed batch was committed; the next run retries it.
        raise ServiceUnavailable(
            f"bronze store {store.describe()} failed ({exc.__class__.__name__}: {exc}); check BRONZE_S3_* "
            "settings, the bucket and the credentials, then rerun `cardpipe load`"
        ) from None


def run_replay(settings: Settings, *, progress: Progress | None = None) -> LoadResult:
    """Rebuild RAW from bronze: drop and recreate the RAW tables, clear the audit, load everything."""
    return run_load(settings, progress=progress, replay=True)


def _run_duckdb(
    settings: Settings,
    *,
    store: BronzeStore,
    progress: Progress | None,
    fault: Callable[[int], None] | None,
    max_batch_files: int,
    replay: bool,
) -> LoadResult:
    started = time.monotonic()
    warehouse = DuckDBWarehouse(settings.warehouse.duckdb_path)
    try:
        if replay:
            warehouse.drop_raw()
            log.warning("replay.dropped_raw", warehouse=str(settings.warehouse.duckdb_path))
        applied = warehouse.migrate()
        if applied:
            log.info("load.migrated", applied=applied)
        listing = list_objects(store, [PREFIXES[kind] for kind in KINDS])
        plan = plan_load(listing, warehouse.audit())
        # Audit rows from before fingerprints whose S3 ETag is still the md5 they recorded: unchanged.
        warehouse.refresh(plan.adopt)
        todo = plan.todo
        result = LoadResult(files_seen=len(listing), files_skipped=plan.unchanged)
        log.info(
            "load.planned",
            store=store.describe(),
            files_seen=len(listing),
            files_new=len(plan.new),
            files_rechecked=len(plan.recheck),
            files_adopted=len(plan.adopt),
            files_skipped=plan.unchanged,
        )
        done = 0
        if not isinstance(store, LocalStore):
            max_batch_files = min(max_batch_files, MAX_REMOTE_BATCH_FILES)
        for batch_no, batch in enumerate(batches(todo, max_batch_files, MAX_BATCH_BYTES)):
            _load_one_batch(
                warehouse,
                store=store,
                batch=batch,
                batch_no=batch_no,
                result=result,
                fault=fault,
            )
            done += len(batch)
            if progress is not None:
                progress(done, len(todo))
    finally:
        warehouse.close()
    log.info(
        "load.finished",
        files_loaded=result.files_loaded,
        files_replaced=result.files_replaced,
        files_verified=result.files_verified,
        files_skipped=result.files_skipped,
        files_failed=len(result.failed),
        rows=result.rows_loaded,
        seconds=round(time.monotonic() - started, 3),
    )
    if result.failed:
        raise LoadError(result)
    return result


def _load_one_batch(
    warehouse: DuckDBWarehouse,
    *,
    store: BronzeStore,
    batch: list[BronzeFile],
    batch_no: int,
    result: LoadResult,
    fault: Callable[[int], None] | None,
) -> None:
    """Load a batch; if DuckDB rejects it, retry file by file so one bad object does not block the rest.

    Audited files in the batch were rewritten (new fingerprint): the same bytes only refresh their audit row,
    other bytes are loaded in place of their earlier rows.
    """
    with local_copy(store, [f.key for f in batch]) as copy:
        same = [f for f in batch if f.audited and same_content(f.previous, copy.digests[f.key])]
        if same:
            warehouse.refresh([(f.key, copy.digests[f.key].checksum, f.fingerprint) for f in same])
            result.files_skipped += len(same)
            result.files_verified += len(same)
            log.info("load.verified_unchanged", batch=batch_no, files=len(same))
            batch = [f for f in batch if f not in same]
        if not batch:
            return
        replacing = [f.key for f in batch if f.audited]
        if replacing:
            log.warning(
                "load.replacing_changed_files", batch=batch_no, files=len(replacing), first=replacing[0]
            )
        try:
            loads = warehouse.load_batch(batch, copy, fault, batch_no)
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            log.warning("load.batch_failed_retrying_per_file", files=len(batch), error=reason)
            loads = []
            for item in batch:
                try:
                    loads += warehouse.load_batch([item], copy, None, batch_no)
                except duckdb.Error as file_exc:
                    result.failed[item.key] = str(file_exc).splitlines()[0]
                    log.error(
                        "load.file_failed", file=item.key, kind=item.kind, error=result.failed[item.key]
                    )
    result.add(loads)
    log.info(
        "load.batch", batch=batch_no, kind=batch[0].kind, files=len(loads), rows=sum(x.rows for x in loads)
    )
