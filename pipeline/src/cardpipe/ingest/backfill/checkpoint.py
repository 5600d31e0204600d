"""The window checkpoint (`raw/_checkpoints/backfill/<window id>.json`): what a run may skip.

It pins the chunk size and the ingested_at of the window (so every run cuts and names the same
objects), records the plan's max seq, and maps every landed chunk to the journal rows it wrote
(`chunks`). A chunk is skipped only when its planned journal count equals its landed count; a
checkpoint written before per-chunk counts existed (`chunks` absent) skips nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

import orjson

from cardpipe.bronze.layout import checkpoint_key
from cardpipe.bronze.store import BronzeStore
from cardpipe.config import ConfigError
from cardpipe.contracts.codec import format_ts
from cardpipe.ingest.backfill.window import Chunk, Window

DEFAULT_CHUNK_ROWS = 50_000
CHECKPOINT_JOB = "backfill"


@dataclass
class Checkpoint:
    """Per-window state; `chunks` maps str(chunk_no) -> journal rows landed (None: unknown, old format)."""

    window_id: str
    since: str | None
    until: str | None
    chunk_rows: int
    ingested_at: str
    last_seq: int = 0  # highest seq_hi landed so far (informational since per-chunk counts exist)
    complete: bool = False  # the last finish reconciled every chunk with the journal
    planned_max_seq: int | None = None
    chunks: dict[str, int] | None = None

    @staticmethod
    def key(window_id: str) -> str:
        return checkpoint_key(CHECKPOINT_JOB, window_id)

    @classmethod
    def load(cls, store: BronzeStore, window_id: str) -> Checkpoint | None:
        key = cls.key(window_id)
        if not store.exists(key):
            return None
        data = orjson.loads(store.get(key))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, store: BronzeStore) -> None:
        store.put(self.key(self.window_id), orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))

    def landed(self, chunk_no: int) -> int | None:
        return None if self.chunks is None else self.chunks.get(str(chunk_no))

    def record(self, chunk_no: int, seq_hi: int, rows: int) -> None:
        """A chunk is durable with `rows` journal rows."""
        if self.chunks is None:
            self.chunks = {}
        self.chunks[str(chunk_no)] = rows
        self.last_seq = max(self.last_seq, seq_hi)

    def pending(self, chunks: Iterable[Chunk]) -> list[Chunk]:
        """The planned chunks whose journal count differs from what was landed (or never landed)."""
        return [c for c in chunks if self.landed(c.chunk_no) != c.planned_rows]


def window_checkpoint(store: BronzeStore, window: Window, chunk_rows: int | None) -> Checkpoint:
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
