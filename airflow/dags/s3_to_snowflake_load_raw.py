"""Load new bronze files into the warehouse RAW tables and announce them with the RAW_EVENTS asset.

Runs every 15 minutes; the loader skips files whose content (its own sha256, in raw.load_audit) it has
already loaded and replaces the rows of a file rewritten since, so overlapping or repeated runs add
nothing. The asset event is emitted only when a run loaded at least one file, so dbt is not rebuilt for
nothing. Snowflake on AWS, DuckDB locally (WAREHOUSE_KIND).
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException
from cardpipe.contracts import names
from sportscards_lib.assets import RAW_EVENTS
from sportscards_lib.defaults import default_args


def _as_dict(result: Any) -> dict[str, Any]:
    if is_dataclass(result) and not isinstance(result, type):
        return asdict(result)
    if hasattr(result, "model_dump"):
        return dict(result.model_dump(mode="json"))
    return dict(vars(result))


@dag(
    dag_id=names.DAG_LOAD_RAW,
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,  # every run loads everything new, so missed intervals need no catch-up
    max_active_runs=1,  # one loader at a time keeps the audit bookkeeping simple and cheap
    default_args=default_args(retries=2, timeout_minutes=45),
    dagrun_timeout=None,
    tags=["sportscards", "load"],
    params={
        "drain_live_queue": Param(
            False,
            type="boolean",
            description="first drain RabbitMQ into bronze (local/dev without the Amazon MQ Lambda)",
        ),
    },
    doc_md=__doc__,
)
def s3_to_snowflake_load_raw() -> None:
    @task
    def drain_live_queue(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Optional: consume the live queue until idle (on AWS the Lambda consumes, so this is off)."""
        if not (params or {}).get("drain_live_queue"):
            raise AirflowSkipException("drain_live_queue is off: live events are landed by the Lambda")
        from cardpipe.ingest import run_consumer
        from sportscards_lib.settings import cardpipe_settings

        # Airflow owns SIGTERM in a task (timeouts, marking failed): the consumer must not install handlers
        stats = run_consumer(cardpipe_settings(), until_idle=True, idle_seconds=5.0, handle_signals=False)
        return dict(stats.as_log())

    @task
    def drain_dead_letters() -> dict[str, Any]:
        """Land the broker's dead-letter queue in bronze quarantine (reason dead_lettered, x-death kept),
        acked after the write; nothing there is a no-op. The data_quality DAG fails while it is not empty."""
        from cardpipe.ingest import drain_dead_letters as drain
        from sportscards_lib.settings import cardpipe_settings

        return dict(drain(cardpipe_settings()).as_log())

    @task(outlets=[RAW_EVENTS], trigger_rule="none_failed")
    def load_raw() -> dict[str, Any]:
        """bronze -> RAW; skips (no asset event) when there was nothing new."""
        from cardpipe.load import run_load
        from sportscards_lib.settings import cardpipe_settings

        result = _as_dict(run_load(cardpipe_settings()))
        loaded = result.get("files_loaded", result.get("files"))
        if loaded == 0:
            raise AirflowSkipException(f"no new bronze files: {result}")
        return result

    [drain_live_queue(), drain_dead_letters()] >> load_raw()


s3_to_snowflake_load_raw()
