"""Every query the backfill runs against the PostgreSQL journal, each retried across a server restart.

A restart (or failover) of PostgreSQL in the middle of a backfill surfaces as psycopg2.OperationalError
(or, while it is down, as a refused connection): the query is retried with bounded exponential backoff
and jitter (about a minute in all) before the error is raised. The first connection of a run is not
retried, so a wrong POSTGRES_DSN still fails fast with a clear message.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from cardpipe.config import ConfigError, Settings
from cardpipe.contracts.codec import format_ts
from cardpipe.errors import ServiceUnavailable
from cardpipe.ingest.backfill.window import Chunk, Window
from cardpipe.logs import get_logger
from cardpipe.retry import backoff
from cardpipe.sources.journal import connect, events_table

RETRY_SECONDS = 60.0  # total sleep budget per query
RETRY_FIRST = 0.5
RETRY_CAP = 10.0

log = get_logger("cardpipe.backfill")


def _no_journal(settings: Settings) -> str:
    return (
        f"journal table {settings.postgres.journal_schema}.events does not exist in the database of "
        "POSTGRES_DSN: seed it (`cardpipe seed-journal`) or set POSTGRES_DSN / POSTGRES_JOURNAL_SCHEMA"
    )


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError, ServiceUnavailable))


def with_journal[T](
    settings: Settings,
    what: str,
    work: Callable[[psycopg2.extensions.connection], T],
    *,
    retry_connect: bool = True,
    budget: float = RETRY_SECONDS,
) -> T:
    """Run `work` on a fresh journal connection; retry transient failures (backoff + jitter, bounded)."""
    slept = 0.0
    attempt = 0
    connected = False
    while True:
        attempt += 1
        try:
            conn = connect(settings.postgres)
            connected = True
            try:
                return work(conn)
            finally:
                conn.close()
        except psycopg2.errors.UndefinedTable:
            raise ConfigError(_no_journal(settings)) from None
        except Exception as exc:
            if not _transient(exc) or (not connected and not retry_connect):
                raise
            delay = backoff(attempt, RETRY_FIRST, RETRY_CAP)
            if slept + delay > budget:
                log.error("backfill.pg_retry_exhausted", what=what, attempts=attempt, slept=round(slept, 1))
                raise
            log.warning(
                "backfill.pg_retry",
                what=what,
                attempt=attempt,
                delay=round(delay, 2),
                error=exc.__class__.__name__,
            )
            time.sleep(delay)
            slept += delay
            retry_connect = True  # the server answered once: a refused connection now means a restart


def _fetch(query: sql.Composable, params: list[Any]) -> Callable[[psycopg2.extensions.connection], Any]:
    def work(conn: psycopg2.extensions.connection) -> list[tuple[Any, ...]]:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    return work


def max_seq(settings: Settings) -> int:
    """The journal's highest seq now: the plan's bound (rows above it are left to a later run).

    Not retried on the first connection, so a bad DSN fails fast.
    """
    query = sql.SQL("SELECT COALESCE(max(seq), 0) FROM {}").format(
        events_table(settings.postgres.journal_schema)
    )
    rows = with_journal(settings, "max_seq", _fetch(query, []), retry_connect=False)
    return int(rows[0][0])


def _chunk_counts_query(
    settings: Settings, window: Window, chunk_rows: int, bound: int | None
) -> tuple[sql.Composable, list[Any]]:
    where, params = window.where(bound)
    query = sql.SQL(
        "SELECT (seq - 1) / %s AS chunk_no, count(*) FROM {} WHERE {} GROUP BY 1 ORDER BY 1"
    ).format(events_table(settings.postgres.journal_schema), where)
    return query, [chunk_rows, *params]


def chunk_counts(settings: Settings, window: Window, chunk_rows: int, bound: int) -> dict[int, int]:
    """Journal rows per chunk number of the window, seq <= bound."""
    query, params = _chunk_counts_query(settings, window, chunk_rows, bound)
    rows = with_journal(settings, "chunk_counts", _fetch(query, params))
    return {int(k): int(n) for k, n in rows}


def copy_rows(settings: Settings, chunk: Chunk) -> bytes:
    """The chunk's (seq, body) rows as one binary COPY stream (server-side filtered, seq order)."""
    where, params = chunk.window.where()
    table = events_table(settings.postgres.journal_schema)

    def work(conn: psycopg2.extensions.connection) -> bytes:
        with conn, conn.cursor() as cur:
            select = sql.SQL(
                "SELECT seq, body FROM {} WHERE seq > %s AND seq <= %s AND {} ORDER BY seq"
            ).format(table, where)
            inner = cur.mogrify(select, [chunk.seq_lo, chunk.last_seq, *params]).decode()
            buffer = io.BytesIO()
            cur.copy_expert(f"COPY ({inner}) TO STDOUT (FORMAT binary)", buffer)
            return buffer.getvalue()

    return with_journal(settings, f"copy chunk {chunk.chunk_no}", work)


def reconcile_snapshot(
    settings: Settings, window: Window, chunk_rows: int, bound: int | None
) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Per-chunk journal counts and the control lines, read in ONE snapshot (so they agree).

    Control lines: journal rows and distinct event ids per journal event_type, seq <= bound (None, from a
    checkpoint written before plans recorded it: unbounded).
    """
    chunk_query, chunk_params = _chunk_counts_query(settings, window, chunk_rows, bound)
    where, params = window.where(bound)
    control_query = sql.SQL(
        "SELECT event_type, count(*), count(DISTINCT event_id) FROM {} WHERE {} "
        "GROUP BY event_type ORDER BY event_type NULLS LAST"
    ).format(events_table(settings.postgres.journal_schema), where)

    def work(conn: psycopg2.extensions.connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn, conn.cursor() as cur:
            cur.execute(chunk_query, chunk_params)
            per_chunk = list(cur.fetchall())
            cur.execute(control_query, params)
            return per_chunk, list(cur.fetchall())

    per_chunk, control = with_journal(settings, "reconcile", work)
    captured_at = format_ts(datetime.now(UTC))
    since, until = window.bounds()
    lines = [
        {
            "window_id": window.window_id,
            "since": since,
            "until": until,
            "event_type": event_type,
            "journal_rows": int(rows),
            "journal_distinct_event_ids": int(distinct),
            "captured_at": captured_at,
            "max_seq": bound,
        }
        for event_type, rows, distinct in control
    ]
    return {int(k): int(n) for k, n in per_chunk}, lines
