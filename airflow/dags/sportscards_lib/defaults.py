"""Retry, timeout and alerting policy shared by every DAG.

Every task is idempotent (deterministic backfill objects, audited loads, dbt merges), so retrying is
safe; a short exponential backoff covers broker/database restarts without hiding a real outage for long.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger("sportscards.alerts")

OWNER = "data-platform"
ALERT_TOPIC_VARIABLE = "sportscards_alerts_sns_topic_arn"


def alert_on_failure(context: Any) -> None:
    """Fail loudly: an ERROR log line (CloudWatch metric filter on MWAA) and, when configured, an SNS message.

    The SNS topic ARN comes from the Airflow Variable `sportscards_alerts_sns_topic_arn` (Secrets Manager on
    MWAA). The callback never raises: a broken alert channel must not mask the task's own failure.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", context.get("run_id", "?"))
    error = context.get("exception")
    message = f"sportscards ALERT: {dag_id}.{task_id} failed in run {run_id}: {error!r}"
    log.error(message)
    try:
        from airflow.sdk import Variable

        topic = Variable.get(ALERT_TOPIC_VARIABLE, default=None)
        if topic:
            import boto3

            boto3.client("sns").publish(TopicArn=topic, Subject=f"{dag_id} failed"[:100], Message=message)
    except Exception:  # the alert channel itself failing must not hide the original error
        log.exception("sportscards alert could not be published")


def default_args(*, retries: int = 2, timeout_minutes: int = 60) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
        "execution_timeout": timedelta(minutes=timeout_minutes),
        "on_failure_callback": alert_on_failure,
    }
