"""Backfill runs: plan a window, land its changed chunks, reconcile with the journal, write the control.

Exactly once, whatever the operator does: a chunk is landed whenever its journal count (bounded by the
plan's max seq) differs from the count the checkpoint says was landed, so a resume or a re-run picks up
rows that committed late anywhere in the window (bigserial gaps commit late). A re-landed chunk rewrites
the same object names with more lines; the loader notices the changed content by its own sha256 and
replaces that file's rows. After landing, every chunk's landed count is reconciled with the journal in
one snapshot; a mismatch is reported as a failed `Reconciliation` (the CLI exits non-zero, Airflow's
finish task raises) telling the operator to re-run the window.

Airflow maps `backfill_chunk` over `plan_backfill(pending_only=True)` and passes the chunk results to
`finish_backfill`, the only writer of the checkpoint after the plan; the CLI calls `run_backfill`.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from multiprocessing import get_context
from typing import Any

import orjson

from cardpipe.bronze.layout import SUFFIX, control_key
from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import Settings
from cardpipe.ingest.backfill import journal_sql
from cardpipe.ingest.backfill.checkpoint import Checkpoint, window_checkpoint
from cardpipe.ingest.backfill.window import Chunk, Window
from cardpipe.ingest.backfill_copy import iter_seq_body
from cardpipe.ingest.landing import PreparedBatch, build_objects, write_objects
from cardpipe.logs import configure_logging, get_logger

CONTROL_KIND = "journal_counts"

log = get_logger("cardpipe.backfill")


class BackfillMismatch(Exception):
    """Landed rows differ from the journal's after a run: the window must be run again."""


@dataclass
class ChunkResult:
    chunk_no: int
    seq_hi: int
    rows: int
    events: int
    quarantined: dict[str, int]
    objects: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        return cls(**data)


@dataclass
class Reconciliation:
    """Landed rows per chunk (checkpoint) against journal rows per chunk (seq <= max_seq), one snapshot."""

    window_id: str
    max_seq: int | None
    landed_rows: int
    journal_rows: int
    mismatched: dict[int, tuple[int | None, int]]  # chunk_no -> (landed or None, journal)
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatched

    @property
    def message(self) -> str:
        if self.ok:
            return f"window {self.window_id}: {self.landed_rows} rows landed = journal"
        chunks = ", ".join(
            f"{k} (landed {'none' if landed is None else landed}, journal {journal})"
            for k, (landed, journal) in sorted(self.mismatched.items())[:10]
        )
        return (
            f"window {self.window_id}: journal rows changed while the backfill ran "
            f"({self.landed_rows} landed, {self.journal_rows} in the journal up to seq {self.max_seq}; "
            f"chunks {chunks}). "
            "Re-run the same window (same --since/--until, or re-trigger the DAG with the same params): "
            "only the changed chunks are landed again, objects are overwritten, not duplicated"
        )

    def check(self) -> None:
        """Raise BackfillMismatch unless every chunk reconciled."""
        if not self.ok:
            raise BackfillMismatch(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_id": self.window_id,
            "max_seq": self.max_seq,
            "landed_rows": self.landed_rows,
            "journal_rows": self.journal_rows,
            "mismatched_chunks": sorted(self.mismatched),
            "ok": self.ok,
        }


@dataclass
class BackfillResult:
    window_id: str
    chunks: int = 0
    skipped_chunks: int = 0
    rows: int = 0
    events: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    bytes: int = 0
    journal_rows: int = 0
    seconds: float = 0.0
    reconciliation: Reconciliation | None = None

    def add(self, chunk: ChunkResult) -> None:
        self.chunks += 1
        self.rows += chunk.rows
        self.events += chunk.events
        self.quarantined.update(chunk.quarantined)
        self.objects += chunk.objects
        self.bytes += chunk.bytes

    @property
    def ok(self) -> bool:
        return self.reconciliation is not None and self.reconciliation.ok


# --------------------------------------------------------------------------- plan


def plan_backfill(
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk_rows: int | None = None,
    *,
    store: BronzeStore | None = None,
    pending_only: bool = False,
) -> list[Chunk]:
    """Non-empty chunks of the window up to the journal's current max seq, in seq order.

    Records the plan's max seq in the window checkpoint (created when new). With pending_only, only the
    chunks whose journal count differs from the count the checkpoint says was landed.
    """
    window = Window(since, until)
    store = store or open_store(settings.bronze)
    checkpoint = window_checkpoint(store, window, chunk_rows)
    n = checkpoint.chunk_rows
    bound = journal_sql.max_seq(settings)
    counts = journal_sql.chunk_counts(settings, window, n, bound)
    checkpoint.planned_max_seq = bound
    checkpoint.complete = False
    checkpoint.save(store)  # pins chunk size, ingested_at and the bound for resumes and mapped tasks
    since_text, until_text = window.bounds()
    chunks = [
        Chunk(
            window_id=window.window_id,
            since=since_text,
            until=until_text,
            chunk_no=k,
            seq_lo=k * n,
            seq_hi=(k + 1) * n,
            planned_rows=count,
            ingested_at=checkpoint.ingested_at,
            max_seq=bound,
        )
        for k, count in sorted(counts.items())
    ]
    return checkpoint.pending(chunks) if pending_only else chunks


# --------------------------------------------------------------------------- chunks


def prepare_chunk(settings: Settings, chunk: Chunk) -> PreparedBatch:
    """COPY the chunk's rows out of the journal and build its objects (nothing written yet)."""
    data = journal_sql.copy_rows(settings, chunk)
    window_id = chunk.window_id
    return build_objects(
        ((body, {"journal_seq": seq, "window_id": window_id}) for seq, body in iter_seq_body(data)),
        source="backfill",
        ingested_at=datetime.fromisoformat(chunk.ingested_at),
        name=chunk.name,
    )


def write_chunk(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
    """Write a prepared chunk durably and report it (a failed put raises: the checkpoint then stays put)."""
    write_objects(store, prepared)
    counts = prepared.counts
    result = ChunkResult(
        chunk_no=chunk.chunk_no,
        seq_hi=chunk.seq_hi,
        rows=counts.messages,
        events=counts.events,
        quarantined=dict(counts.quarantined),
        objects=counts.objects,
        bytes=counts.bytes,
    )
    log.info("backfill.chunk", window_id=chunk.window_id, planned_rows=chunk.planned_rows, **result.to_dict())
    return result


def backfill_chunk(settings: Settings, chunk: Chunk, *, store: BronzeStore | None = None) -> ChunkResult:
    """Land one chunk; idempotent (same objects, same bytes for the same journal rows). Durable on return.

    Does not touch the checkpoint (mapped Airflow tasks run in parallel): the caller records the result.
    """
    return write_chunk(store or open_store(settings.bronze), chunk, prepare_chunk(settings, chunk))


# --------------------------------------------------------------------------- finish


def control_record_key(window_id: str) -> str:
    return control_key(CONTROL_KIND, f"{window_id}{SUFFIX}")


def finish_backfill(
    settings: Settings,
    window: Window,
    *,
    store: BronzeStore | None = None,
    results: Iterable[ChunkResult | dict[str, Any]] | None = None,
) -> Reconciliation:
    """Record chunk results, reconcile every chunk with the journal, write the control record.

    The control lines count the journal up to the plan's max seq, so producers writing meanwhile do not
    fail reconciliation. The checkpoint is marked complete only when every chunk reconciled; otherwise
    the returned Reconciliation is not ok (call `.check()` to raise) and a re-run lands the changed chunks.
    """
    store = store or open_store(settings.bronze)
    checkpoint = Checkpoint.load(store, window.window_id)
    if checkpoint is None:
        checkpoint = window_checkpoint(store, window, None)
    for item in results or ():
        result = item if isinstance(item, ChunkResult) else ChunkResult.from_dict(item)
        checkpoint.record(result.chunk_no, result.seq_hi, result.rows)
    bound = checkpoint.planned_max_seq
    journal, lines = journal_sql.reconcile_snapshot(settings, window, checkpoint.chunk_rows, bound)
    landed = {int(k): v for k, v in (checkpoint.chunks or {}).items()}
    mismatched = {
        k: (landed.get(k), journal.get(k, 0))
        for k in sorted(set(journal) | set(landed))
        if landed.get(k) != journal.get(k, 0)
    }
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    store.put(control_record_key(window.window_id), gzip.compress(body, compresslevel=6, mtime=0))
    checkpoint.complete = not mismatched
    checkpoint.save(store)
    reconciliation = Reconciliation(
        window_id=window.window_id,
        max_seq=bound,
        landed_rows=sum(landed.values()),
        journal_rows=sum(line["journal_rows"] for line in lines),
        mismatched=mismatched,
        lines=lines,
    )
    log.info(
        "backfill.control_record",
        window_id=window.window_id,
        event_types=len(lines),
        journal_rows=reconciliation.journal_rows,
        landed_rows=reconciliation.landed_rows,
        max_seq=bound,
    )
    if mismatched:
        log.warning(
            "backfill.journal_changed",
            window_id=window.window_id,
            landed_rows=reconciliation.landed_rows,
            journal_rows=reconciliation.journal_rows,
            mismatched_chunks=len(mismatched),
            hint="re-run the same window: only changed chunks are landed again (overwritten, not duplicated)",
        )
    return reconciliation


# --------------------------------------------------------------------------- the CLI's run


def _pipelined(settings: Settings, chunks: list[Chunk], store: BronzeStore) -> Iterator[ChunkResult]:
    """One process: chunk k's objects are written (fsync / S3 round trips) while chunk k+1 is decoded."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-writer") as writer:
        writing: Future[ChunkResult] | None = None
        for chunk in chunks:
            prepared = prepare_chunk(settings, chunk)
            if writing is not None:
                yield writing.result()
            writing = writer.submit(write_chunk, store, chunk, prepared)
        if writing is not None:
            yield writing.result()


def _results_in_order(
    settings: Settings, chunks: list[Chunk], store: BronzeStore, workers: int
) -> Iterator[ChunkResult]:
    """Chunk results in chunk order; with workers > 1 chunks run in parallel processes (COPY + decode)."""
    if workers <= 1:
        yield from _pipelined(settings, chunks, store)
        return
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=configure_logging,
        initargs=(settings.log_format,),
    ) as pool:
        pending: list[Future[ChunkResult]] = []
        queue = iter(chunks)
        for chunk in queue:
            pending.append(pool.submit(backfill_chunk, settings, chunk))
            if len(pending) >= workers * 2:
                break
        while pending:
            result = pending.pop(0).result()
            next_chunk = next(queue, None)
            if next_chunk is not None:
                pending.append(pool.submit(backfill_chunk, settings, next_chunk))
            yield result


def run_backfill(
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk_rows: int | None = None,
    *,
    workers: int = 1,
    on_plan: Callable[[list[Chunk]], None] | None = None,
    on_chunk: Callable[[ChunkResult], None] | None = None,
) -> BackfillResult:
    """Backfill a window end to end: plan, land the chunks whose journal count changed, reconcile.

    Returns the result with its Reconciliation; `result.ok` is False when the journal changed under the
    run (the caller must fail and tell the operator to re-run the window).
    """
    started = time.perf_counter()
    window = Window(since, until)
    store = open_store(settings.bronze)
    chunks = plan_backfill(settings, window.since, window.until, chunk_rows, store=store)
    checkpoint = Checkpoint.load(store, window.window_id)
    assert checkpoint is not None  # saved by plan_backfill
    todo = checkpoint.pending(chunks)
    result = BackfillResult(window_id=window.window_id, skipped_chunks=len(chunks) - len(todo))
    log.info(
        "backfill.start",
        window_id=window.window_id,
        store=store.describe(),
        chunks=len(chunks),
        max_seq=checkpoint.planned_max_seq,
        skipped_chunks=result.skipped_chunks,
        relanded_chunks=sum(1 for c in todo if checkpoint.landed(c.chunk_no) is not None),
        planned_rows=sum(c.planned_rows for c in todo),
        workers=workers,
    )
    if on_plan:
        on_plan(todo)
    for chunk_result in _results_in_order(settings, todo, store, workers):
        result.add(chunk_result)
        checkpoint.record(chunk_result.chunk_no, chunk_result.seq_hi, chunk_result.rows)
        checkpoint.save(store)
        if on_chunk:
            on_chunk(chunk_result)
    reconciliation = finish_backfill(settings, window, store=store)
    result.reconciliation = reconciliation
    result.journal_rows = reconciliation.journal_rows
    result.seconds = time.perf_counter() - started
    log.info(
        "backfill.done",
        window_id=window.window_id,
        chunks=result.chunks,
        skipped_chunks=result.skipped_chunks,
        rows=result.rows,
        events=result.events,
        quarantined=dict(result.quarantined),
        objects=result.objects,
        bytes=result.bytes,
        journal_rows=result.journal_rows,
        reconciled=reconciliation.ok,
        seconds=round(result.seconds, 3),
        rows_per_second=round(result.rows / result.seconds) if result.seconds else None,
    )
    return result
