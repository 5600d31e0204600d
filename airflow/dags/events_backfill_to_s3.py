"""Backfill a window of the PostgreSQL event journal into the bronze zone (S3 on AWS).

Manual runs only (schedule=None): a backfill is an operator's decision with an explicit window.
The window is split into deterministic chunks (fixed journal seq ranges) that are mapped dynamically, one
task instance per chunk. Resumable: a chunk rewrites the same objects with the same bytes, so clearing the
failed map indexes (or re-triggering the same window) finishes the work without duplicates. The control
record for reconciliation is written only after every chunk succeeded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task
from cardpipe.contracts import names
from sportscards_lib.defaults import default_args


@dag(
    dag_id=names.DAG_EVENTS_BACKFILL,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # two runs of one window would race on its checkpoint and control record
    max_active_tasks=4,  # chunks in parallel without starving the journal database
    default_args=default_args(retries=3, timeout_minutes=30),
    tags=["sportscards", "ingest"],
    params={
        "since": Param(None, type=["null", "string"], description="window start, ISO 8601 UTC (inclusive)"),
        "until": Param(None, type=["null", "string"], description="window end, ISO 8601 UTC (exclusive)"),
        "chunk_rows": Param(None, type=["null", "integer"], minimum=1, description="journal rows per chunk"),
    },
    doc_md=__doc__,
)
def events_backfill_to_s3() -> None:
    @task
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Chunks of the window (only non-empty ones), as plain dicts for XCom."""
        from cardpipe.ingest.backfill import parse_ts, plan_backfill
        from sportscards_lib.settings import cardpipe_settings

        params = params or {}
        chunks = plan_backfill(
            cardpipe_settings(),
            parse_ts(params.get("since")),
            parse_ts(params.get("until")),
            params.get("chunk_rows"),
        )
        return [chunk.to_dict() for chunk in chunks]

    @task(max_active_tis_per_dag=4)
    def land_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
        """One chunk into bronze; idempotent, so retries and re-runs are safe."""
        from cardpipe.ingest.backfill import Chunk, backfill_chunk
        from sportscards_lib.settings import cardpipe_settings

        return backfill_chunk(cardpipe_settings(), Chunk.from_dict(chunk)).to_dict()

    @task
    def finish(results: list[dict[str, Any]], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the reconciliation control record once every chunk is durable."""
        from cardpipe.ingest.backfill import Window, finish_backfill
        from sportscards_lib.settings import cardpipe_settings

        params = params or {}
        window = Window.from_bounds(params.get("since"), params.get("until"))
        lines = finish_backfill(cardpipe_settings(), window)
        results = list(results)
        return {
            "window_id": window.window_id,
            "chunks": len(results),
            "rows": sum(r["rows"] for r in results),
            "events": sum(r["events"] for r in results),
            "journal_rows": sum(line["journal_rows"] for line in lines),
        }

    finish(land_chunk.expand(chunk=plan()))


events_backfill_to_s3()
