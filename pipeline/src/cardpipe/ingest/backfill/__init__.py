"""Backfill: PostgreSQL event journal -> bronze (source=backfill), resumable, exactly once per journal row.

One job per module: `window` (which rows, how they are cut), `checkpoint` (what a run may skip),
`journal_sql` (every query, retried across a PostgreSQL restart), `runner` (plan, land, reconcile).
Import the public names from `cardpipe.ingest`.
"""

from __future__ import annotations

from cardpipe.ingest.backfill.checkpoint import DEFAULT_CHUNK_ROWS, Checkpoint
from cardpipe.ingest.backfill.runner import (
    BackfillMismatch,
    BackfillResult,
    ChunkResult,
    Reconciliation,
    backfill_chunk,
    control_record_key,
    finish_backfill,
    plan_backfill,
    prepare_chunk,
    run_backfill,
    write_chunk,
)
from cardpipe.ingest.backfill.window import Chunk, Window, parse_ts

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "BackfillMismatch",
    "BackfillResult",
    "Checkpoint",
    "Chunk",
    "ChunkResult",
    "Reconciliation",
    "Window",
    "backfill_chunk",
    "control_record_key",
    "finish_backfill",
    "parse_ts",
    "plan_backfill",
    "prepare_chunk",
    "run_backfill",
    "write_chunk",
]
