"""Write generated events into the PostgreSQL journal with COPY (what the producing services would record)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import psycopg2.extensions
from psycopg2 import sql

from cardpipe.generator.stream import GeneratedEvent
from cardpipe.sources.journal import events_table

DEFAULT_CHUNK_ROWS = 20_000
_COLUMNS = ("event_id", "event_type", "occurred_at", "producer", "body")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _text(value: str | None) -> str:
    return _NULL if value is None else value.translate(_ESCAPES)


def copy_rows(events: Iterable[GeneratedEvent]) -> str:
    """COPY text format: one tab-separated line per event, bytea in hex (its backslash escaped)."""
    out = []
    for event in events:
        occurred = event.occurred_at
        out.append(
            f"{_text(event.event_id)}\t{_text(event.event_type)}\t"
            f"{_NULL if occurred is None else occurred.isoformat()}\t{_text(event.producer)}\t"
            f"\\\\x{event.body.hex()}\n"
        )
    return "".join(out)


def _chunks(events: Iterable[GeneratedEvent], size: int) -> Iterator[list[GeneratedEvent]]:
    iterator = iter(events)
    while chunk := list(islice(iterator, size)):
        yield chunk


def truncate(conn: psycopg2.extensions.connection, schema: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(events_table(schema)))


def write_events(
    conn: psycopg2.extensions.connection,
    schema: str,
    events: Iterable[GeneratedEvent],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[list[GeneratedEvent]], None] | None = None,
) -> int:
    """COPY events into <schema>.events, one transaction per chunk; returns the rows written."""
    statement = (
        sql.SQL("COPY {} ({}) FROM STDIN")
        .format(events_table(schema), sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)))
        .as_string(conn)
    )
    rows = 0
    for chunk in _chunks(events, chunk_rows):
        with conn, conn.cursor() as cur:
            cur.copy_expert(statement, io.StringIO(copy_rows(chunk)))
        rows += len(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
    return rows
