"""Data-quality gate: RAW freshness, volume anomaly and journal-vs-RAW reconciliation, with an alert.

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

    source_freshness()
    quality_tests()


data_quality()
