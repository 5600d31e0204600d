"""Backfill: PostgreSQL event journal -> bronze (source=backfill), resumable and idempotent.

A window (occurred_at in [since, until); all rows, NULL occurred_at included, when unbounded) is cut
into chunks of FIXED seq ranges: chunk k holds the window's rows with seq in (k*N, (k+1)*N]. Ranges
do not depend on what else is in the journal, so a re-run (or a row committed late inside a range)
maps every row to the same chunk and the same object names: re-running overwrites, never duplicates.

The window checkpoint (`raw/_checkpoints/backfill/<window id>.json`) pins the chunk size and the
ingested_at of the window, and records the last seq whose chunk (and every chunk before it) is
durably written, so a killed run resumes after it. Airflow maps `backfill_chunk` over
`plan_backfill`'s chunks and calls `finish_backfill`; the CLI calls `run_backfill`.
"""

from __future__ import annotations

import gzip
import io
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

import orjson
import psycopg2
import psycopg2.errors
from cardpipe.bronze.layout import SUFFIX, checkpoint_key, control_key
from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import ConfigError, Settings
from cardpipe.contracts.codec import format_ts
from cardpipe.ingest.backfill_copy import iter_seq_body
from cardpipe.ingest.landing import PreparedBatch, build_objects
from cardpipe.logs import configure_logging, get_logger
from cardpipe.sources.journal import connect, events_table
from psycopg2 import sql

DEFAULT_CHUNK_ROWS = 50_000
PUT_THREADS = 8
CHECKPOINT_JOB = "backfill"
CONTROL_KIND = "journal_counts"

log = get_logger("cardpipe.backfill")


# --------------------------------------------------------------------------- window + chunk specs


def _ts_id(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S.%fZ" if value.microsecond else "%Y%m%dT%H%M%SZ")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_ts(value: str | None) -> datetime | None:
    """ISO 8601 (naive means UTC) -> aware UTC datetime."""
    if value is None:
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise ConfigError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-03-01T00:00:00Z)") from None


@dataclass(frozen=True)
class Window:
    """occurred_at in [since, until); an unbounded window also takes rows without occurred_at."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _utc(self.since))
        object.__setattr__(self, "until", _utc(self.until))
        if self.since and self.until and self.since >= self.until:
            raise ConfigError(
                f"--since {self.since.isoformat()} must be before --until {self.until.isoformat()}"
            )

    @property
    def window_id(self) -> str:
        """Deterministic and object-name safe: 'all', '20260301T000000Z-20260302T000000Z', 'start-…'."""
        if self.since is None and self.until is None:
            return "all"
        return (
            f"{_ts_id(self.since) if self.since else 'start'}-{_ts_id(self.until) if self.until else 'end'}"
        )

    def bounds(self) -> tuple[str | None, str | None]:
        return (format_ts(self.since) if self.since else None, format_ts(self.until) if self.until else None)

    @classmethod
    def from_bounds(cls, since: str | None, until: str | None) -> Window:
        return cls(parse_ts(since), parse_ts(until))

    def where(self) -> tuple[sql.Composable, list[Any]]:
        """SQL filter (no leading WHERE/AND) and its parameters."""
        clauses: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []
        if self.since is not None:
            clauses.append(sql.SQL("occurred_at >= %s"))
            params.append(self.since)
        if self.until is not None:
            clauses.append(sql.SQL("occurred_at < %s"))
            params.append(self.until)
        return sql.SQL(" AND ").join(clauses), params


@dataclass(frozen=True)
class Chunk:
    """One unit of backfill work; plain JSON-serializable fields (Airflow XCom / task mapping)."""

    window_id: str
    since: str | None
    until: str | None
    chunk_no: int
    seq_lo: int  # exclusive
    seq_hi: int  # inclusive
    planned_rows: int
    ingested_at: str

    @property
    def name(self) -> str:
        return f"backfill-{self.window_id}-{self.chunk_no:06d}"

    @property
    def window(self) -> Window:
        return Window.from_bounds(self.since, self.until)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**data)


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

    def add(self, chunk: ChunkResult) -> None:
        self.chunks += 1
        self.rows += chunk.rows
        self.events += chunk.events
        self.quarantined.update(chunk.quarantined)
        self.objects += chunk.objects
        self.bytes += chunk.bytes


# --------------------------------------------------------------------------- checkpoint


@dataclass
class Checkpoint:
    """Per-window state: pins chunk size and ingested_at; last_seq = end of the durable chunk prefix."""

    window_id: str
    since: str | None
    until: str | None
    chunk_rows: int
    ingested_at: str
    last_seq: int = 0
    complete: bool = False

    @staticmethod
    def key(window_id: str) -> str:
        return checkpoint_key(CHECKPOINT_JOB, window_id)

    @classmethod
    def load(cls, store: BronzeStore, window_id: str) -> Checkpoint | None:
        key = cls.key(window_id)
        if not store.exists(key):
            return None
        return cls(**orjson.loads(store.get(key)))

    def save(self, store: BronzeStore) -> None:
        store.put(self.key(self.window_id), orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))


def _window_checkpoint(store: BronzeStore, window: Window, chunk_rows: int | None) -> Checkpoint:
    """The window's checkpoint (not yet saved when new); refuses a chunk size that would re-cut the window."""
    existing = Checkpoint.load(store, window.window_id)
    if existing is not None:
        if chunk_rows is not None and chunk_rows != existing.chunk_rows:
            raise ConfigError(
                f"window {window.window_id} was backfilled with --chunk-rows {existing.chunk_rows}; use that "
                "value (different chunks would duplicate objects) or delete "
                f"{Checkpoint.key(window.window_id)} and the window's objects first"
            )
        return existing
    since, until = window.bounds()
    return Checkpoint(
        window_id=window.window_id,
        since=since,
        until=until,
        chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS,
        ingested_at=format_ts(datetime.now(UTC)),
    )


# --------------------------------------------------------------------------- PostgreSQL


def _run_sql(settings: Settings, query: sql.Composable, params: list[Any]) -> list[tuple[Any, ...]]:
    conn = connect(settings.postgres)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())
    except psycopg2.errors.UndefinedTable:
        raise ConfigError(_no_journal(settings)) from None
    finally:
        conn.close()


def _no_journal(settings: Settings) -> str:
    return (
        f"journal table {settings.postgres.journal_schema}.events does not exist in the database of "
        "POSTGRES_DSN: seed it (`cardpipe seed-journal`) or set POSTGRES_DSN / POSTGRES_JOURNAL_SCHEMA"
    )


def _copy_rows(settings: Settings, chunk: Chunk) -> bytes:
    """The chunk's (seq, body) rows as one binary COPY stream (server-side filtered, seq order)."""
    where, params = chunk.window.where()
    table = events_table(settings.postgres.journal_schema)
    conn = connect(settings.postgres)
    try:
        with conn, conn.cursor() as cur:
            select = sql.SQL(
                "SELECT seq, body FROM {} WHERE seq > %s AND seq <= %s AND {} ORDER BY seq"
            ).format(table, where)
            inner = cur.mogrify(select, [chunk.seq_lo, chunk.seq_hi, *params]).decode()
            buffer = io.BytesIO()
            cur.copy_expert(f"COPY ({inner}) TO STDOUT (FORMAT binary)", buffer)
            return buffer.getvalue()
    except psycopg2.errors.UndefinedTable:
        raise ConfigError(_no_journal(settings)) from None
    finally:
        conn.close()


# --------------------------------------------------------------------------- the API


def plan_backfill(
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk_rows: int | None = None,
    *,
    store: BronzeStore | None = None,
) -> list[Chunk]:
    """Non-empty chunks of the window, in seq order (reads/creates the window checkpoint)."""
    window = Window(since, until)
    store = store or open_store(settings.bronze)
    checkpoint = _window_checkpoint(store, window, chunk_rows)
    n = checkpoint.chunk_rows
    where, params = window.where()
    query = sql.SQL(
        "SELECT (seq - 1) / %s AS chunk_no, count(*) FROM {} WHERE {} GROUP BY 1 ORDER BY 1"
    ).format(events_table(settings.postgres.journal_schema), where)
    rows = _run_sql(settings, query, [n, *params])
    if not store.exists(Checkpoint.key(window.window_id)):
        checkpoint.save(store)  # pins chunk size and ingested_at for resumes, re-runs and mapped tasks
    since_text, until_text = window.bounds()
    return [
        Chunk(
            window_id=window.window_id,
            since=since_text,
            until=until_text,
            chunk_no=int(k),
            seq_lo=int(k) * n,
            seq_hi=(int(k) + 1) * n,
            planned_rows=int(count),
            ingested_at=checkpoint.ingested_at,
        )
        for k, count in rows
    ]


def _put_all(store: BronzeStore, objects: dict[str, bytes]) -> None:
    """Write every object, several at a time: fsync and S3 round trips wait on I/O, not the CPU.

    Returns only when all are durable; raises the first failure (the checkpoint then stays put).
    """
    if len(objects) <= 1:
        for key, data in objects.items():
            store.put(key, data)
        return
    with ThreadPoolExecutor(max_workers=min(PUT_THREADS, len(objects))) as pool:
        for future in [pool.submit(store.put, key, data) for key, data in objects.items()]:
            future.result()


def prepare_chunk(settings: Settings, chunk: Chunk) -> PreparedBatch:
    """COPY the chunk's rows out of the journal and build its objects (nothing written yet)."""
    data = _copy_rows(settings, chunk)
    window_id = chunk.window_id
    return build_objects(
        ((body, {"journal_seq": seq, "window_id": window_id}) for seq, body in iter_seq_body(data)),
        source="backfill",
        ingested_at=datetime.fromisoformat(chunk.ingested_at),
        name=chunk.name,
    )


def write_chunk(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
    """Write a prepared chunk durably and report it."""
    _put_all(store, prepared.objects)
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
    log.info("backfill.chunk", window_id=chunk.window_id, **result.to_dict())
    return result


def backfill_chunk(settings: Settings, chunk: Chunk, *, store: BronzeStore | None = None) -> ChunkResult:
    """Land one chunk; idempotent (same objects, same bytes on every run). Durable when it returns."""
    return write_chunk(store or open_store(settings.bronze), chunk, prepare_chunk(settings, chunk))


def journal_counts(settings: Settings, window: Window) -> list[dict[str, Any]]:
    """Reconciliation control lines: journal rows and distinct event ids per journal event_type."""
    where, params = window.where()
    query = sql.SQL(
        "SELECT event_type, count(*), count(DISTINCT event_id) FROM {} WHERE {} "
        "GROUP BY event_type ORDER BY event_type NULLS LAST"
    ).format(events_table(settings.postgres.journal_schema), where)
    captured_at = format_ts(datetime.now(UTC))
    since, until = window.bounds()
    return [
        {
            "window_id": window.window_id,
            "since": since,
            "until": until,
            "event_type": event_type,
            "journal_rows": int(rows),
            "journal_distinct_event_ids": int(distinct),
            "captured_at": captured_at,
        }
        for event_type, rows, distinct in _run_sql(settings, query, params)
    ]


def control_record_key(window_id: str) -> str:
    return control_key(CONTROL_KIND, f"{window_id}{SUFFIX}")


def finish_backfill(
    settings: Settings, window: Window, *, store: BronzeStore | None = None
) -> list[dict[str, Any]]:
    """Write the window's control record and mark its checkpoint complete; returns the control lines."""
    store = store or open_store(settings.bronze)
    lines = journal_counts(settings, window)
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    store.put(control_record_key(window.window_id), gzip.compress(body, compresslevel=6, mtime=0))
    checkpoint = Checkpoint.load(store, window.window_id)
    if checkpoint is not None:
        checkpoint.complete = True
        checkpoint.save(store)
    log.info(
        "backfill.control_record",
        window_id=window.window_id,
        event_types=len(lines),
        journal_rows=sum(line["journal_rows"] for line in lines),
    )
    return lines


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
    """Backfill a window end to end: plan, land chunks after the checkpoint, write the control record.

    A complete window is re-run from the start (same objects, same bytes); an incomplete one resumes.
    """
    started = time.perf_counter()
    window = Window(since, until)
    store = open_store(settings.bronze)
    chunks = plan_backfill(settings, window.since, window.until, chunk_rows, store=store)
    checkpoint = Checkpoint.load(store, window.window_id)
    assert checkpoint is not None  # created by plan_backfill
    if checkpoint.complete:
        checkpoint.complete = False
        checkpoint.last_seq = 0
        checkpoint.save(store)
    todo = [c for c in chunks if c.seq_hi > checkpoint.last_seq]
    result = BackfillResult(window_id=window.window_id, skipped_chunks=len(chunks) - len(todo))
    log.info(
        "backfill.start",
        window_id=window.window_id,
        store=store.describe(),
        chunks=len(chunks),
        resume_after_seq=checkpoint.last_seq,
        skipped_chunks=result.skipped_chunks,
        planned_rows=sum(c.planned_rows for c in todo),
        workers=workers,
    )
    if on_plan:
        on_plan(todo)
    for chunk_result in _results_in_order(settings, todo, store, workers):
        result.add(chunk_result)
        checkpoint.last_seq = chunk_result.seq_hi
        checkpoint.save(store)
        if on_chunk:
            on_chunk(chunk_result)
    lines = finish_backfill(settings, window, store=store)
    result.journal_rows = sum(line["journal_rows"] for line in lines)
    if result.skipped_chunks == 0 and result.rows != result.journal_rows:
        # Rows committed into the window while it ran (or late, below a seq already read): re-run it.
        log.warning(
            "backfill.journal_changed",
            window_id=window.window_id,
            rows=result.rows,
            journal_rows=result.journal_rows,
            hint="re-run the same window to pick up the new rows (objects are overwritten, not duplicated)",
        )
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
        seconds=round(result.seconds, 3),
        rows_per_second=round(result.rows / result.seconds) if result.seconds else None,
    )
    return result
