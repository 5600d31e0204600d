"""Data-quality gate: RAW freshness, volume anomaly, journal-vs-RAW reconciliation and an empty dead-letter
queue, with an alert.

Runs after every marts rebuild (MARTS asset) and at least daily at 06:00 UTC, so a pipeline that silently
stopped still gets a freshness failure. The checks are dbt tests tagged `data_quality` (their logic lives in
the dbt project); this DAG only runs them and fails loudly: every task has the alert callback, the checks run
side by side (one run reports every broken check), and any failed check fails the run.
dbt runs with the dbt DAG's profile (sportscards_lib.dbt.profile_config): TRANSFORMER on Snowflake.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from cardpipe.contracts import names
from sportscards_lib import dbt
from sportscards_lib.assets import MARTS
from sportscards_lib.defaults import default_args


@dag(
    dag_id=names.DAG_DATA_QUALITY,
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"), assets=[MARTS]),
    start_date=datetime(2026, 1, 1),
    catchup=False,  # a quality check of a past day says nothing about the data now
    max_active_runs=1,
    default_args=default_args(retries=1, timeout_minutes=30),
    dagrun_timeout=timedelta(hours=1),
    tags=["sportscards", "quality"],
    doc_md=__doc__,
)
def data_quality() -> None:
    @task
    def source_freshness() -> None:
        """RAW events loaded recently enough (thresholds RAW_EVENTS_FRESHNESS_*_HOURS)."""
        dbt.run_dbt("source", "freshness")

    @task
    def quality_tests() -> None:
        """Volume anomaly and reconciliation of journal counts against RAW (dbt tests tag:data_quality)."""
        dbt.run_dbt("test", "--select", "tag:data_quality")

    @task
    def dead_letter_queue_empty() -> int:
        """The broker's dead-letter queue is empty: a dead-lettered message is not in bronze until drained
        (fails at once, no retry, with the count and the command that lands them in quarantine)."""
        from airflow.sdk.exceptions import AirflowFailException
        from cardpipe.ingest import DeadLettersPending, check_dead_letters
        from sportscards_lib.settings import rabbit_settings

        try:
            return check_dead_letters(rabbit_settings())
        except DeadLettersPending as exc:
            raise AirflowFailException(str(exc)) from None

    source_freshness()
    quality_tests()
    dead_letter_queue_empty()


data_quality()
