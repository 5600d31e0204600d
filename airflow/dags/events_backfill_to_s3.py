"""Backfill a window of the PostgreSQL event journal into the bronze zone (S3 on AWS).

Manual runs only (schedule=None): a backfill is an operator's decision with an explicit window.
The window is split into deterministic chunks (fixed journal seq ranges, bounded by the journal's max seq
at plan time); only the chunks whose journal count differs from what the window checkpoint says was landed
are mapped, one task instance per chunk. A chunk task never writes the checkpoint (parallel tasks would
clobber it): its result goes back by XCom to `finish`, the checkpoint's only writer after `plan`, which
records the counts, reconciles every chunk with the journal and writes the control record. `finish` fails
the run when rows changed under it: re-trigger the same window (only changed chunks are landed again,
under the same object names). Clearing failed map indexes is safe too: a chunk is idempotent.
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
        """Chunks of the window to land (non-empty, count changed since landed), as plain dicts for XCom."""
        from cardpipe.ingest import parse_ts, plan_backfill
        from sportscards_lib.settings import cardpipe_settings

        params = params or {}
        chunks = plan_backfill(
            cardpipe_settings(),
            parse_ts(params.get("since")),
            parse_ts(params.get("until")),
            params.get("chunk_rows"),
            pending_only=True,
        )
        return [chunk.to_dict() for chunk in chunks]

    @task(max_active_tis_per_dag=4)
    def land_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
        """One chunk into bronze; idempotent, so retries and re-runs are safe. Its result goes to `finish`."""
        from cardpipe.ingest import Chunk, backfill_chunk
        from sportscards_lib.settings import cardpipe_settings

        return backfill_chunk(cardpipe_settings(), Chunk.from_dict(chunk)).to_dict()

    # none_failed: runs when nothing changed (the mapped task is skipped over zero chunks); any failed chunk
    # still stops it, so the control record is written only after every chunk is durable.
    @task(trigger_rule="none_failed")
    def finish(results: list[dict[str, Any]] | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record chunk results in the checkpoint, reconcile with the journal, write the control record."""
        from airflow.sdk.exceptions import AirflowFailException
        from cardpipe.ingest import BackfillMismatch, Window, finish_backfill
        from sportscards_lib.settings import cardpipe_settings

        params = params or {}
        window = Window.from_bounds(params.get("since"), params.get("until"))
        results = [r for r in (results or []) if r]
        reconciliation = finish_backfill(cardpipe_settings(), window, results=results)
        try:
            reconciliation.check()
        except BackfillMismatch as exc:
            # Retrying finish cannot help (the changed chunks must be landed again): fail the run at once,
            # with what to do (re-trigger the same window).
            raise AirflowFailException(str(exc)) from exc
        return {
            **reconciliation.to_dict(),
            "chunks": len(results),
            "rows": sum(r["rows"] for r in results),
            "events": sum(r["events"] for r in results),
        }

    finish(land_chunk.expand(chunk=plan()))


events_backfill_to_s3()
