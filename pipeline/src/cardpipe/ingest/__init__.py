"""Ingestion into bronze: the public front the CLI, the DAGs, tests and benchmarks import from.

`from cardpipe.ingest import plan_backfill, backfill_chunk, finish_backfill, run_backfill, run_consumer`,
`drain_dead_letters`, `check_dead_letters`.
Names resolve lazily (PEP 562), so importing one (e.g. the Lambda handler's landing code) does not pull
in pika or psycopg2. To add a name: one line in `_EXPORTS`, one in the TYPE_CHECKING block, one in __all__.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cardpipe.ingest.backfill import (
        BackfillMismatch,
        BackfillResult,
        Checkpoint,
        Chunk,
        ChunkResult,
        Reconciliation,
        Window,
        backfill_chunk,
        control_record_key,
        finish_backfill,
        parse_ts,
        plan_backfill,
        run_backfill,
    )
    from cardpipe.ingest.consumer import ConsumeStats, run_consumer
    from cardpipe.ingest.dead_letters import (
        DeadLettersPending,
        DrainStats,
        check_dead_letters,
        dead_letter_depth,
        drain_dead_letters,
    )

_EXPORTS: dict[str, str] = {
    "BackfillMismatch": "cardpipe.ingest.backfill",
    "BackfillResult": "cardpipe.ingest.backfill",
    "Checkpoint": "cardpipe.ingest.backfill",
    "Chunk": "cardpipe.ingest.backfill",
    "ChunkResult": "cardpipe.ingest.backfill",
    "Reconciliation": "cardpipe.ingest.backfill",
    "Window": "cardpipe.ingest.backfill",
    "backfill_chunk": "cardpipe.ingest.backfill",
    "control_record_key": "cardpipe.ingest.backfill",
    "finish_backfill": "cardpipe.ingest.backfill",
    "parse_ts": "cardpipe.ingest.backfill",
    "plan_backfill": "cardpipe.ingest.backfill",
    "run_backfill": "cardpipe.ingest.backfill",
    "ConsumeStats": "cardpipe.ingest.consumer",
    "run_consumer": "cardpipe.ingest.consumer",
    "DeadLettersPending": "cardpipe.ingest.dead_letters",
    "DrainStats": "cardpipe.ingest.dead_letters",
    "check_dead_letters": "cardpipe.ingest.dead_letters",
    "dead_letter_depth": "cardpipe.ingest.dead_letters",
    "drain_dead_letters": "cardpipe.ingest.dead_letters",
}

__all__ = [
    "BackfillMismatch",
    "BackfillResult",
    "Checkpoint",
    "Chunk",
    "ChunkResult",
    "ConsumeStats",
    "DeadLettersPending",
    "DrainStats",
    "Reconciliation",
    "Window",
    "backfill_chunk",
    "check_dead_letters",
    "control_record_key",
    "dead_letter_depth",
    "drain_dead_letters",
    "finish_backfill",
    "parse_ts",
    "plan_backfill",
    "run_backfill",
    "run_consumer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
