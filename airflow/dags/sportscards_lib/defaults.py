"""Retry, timeout and alerting policy shared by every DAG.

Every task is idempotent (deterministic backfill objects, audited loads, dbt merges), so retrying is
safe; a short exponential backoff covers broker/database restarts without hiding a real outage for long.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from cardpipe.contracts import names

log = logging.getLogger("sportscards.alerts")

OWNER = "data-platform"


def alerts_topic_arn() -> str | None:
    """The SNS alerts topic: SPORTSCARDS_ALERTS_TOPIC_ARN (set by infra as an MWAA option), else the Airflow
    Variable names.VAR_ALERTS_TOPIC (Secrets Manager on MWAA), else none (log line only)."""
    from sportscards_lib.settings import setting

    topic = setting(names.ENV_ALERTS_TOPIC_ARN)
    if topic:
        return topic
    from airflow.sdk import Variable

    value = Variable.get(names.VAR_ALERTS_TOPIC, default=None)
    return str(value) if value else None


def publish_alert(topic_arn: str, subject: str, message: str) -> str:
    """Publish to SNS in the topic's own region (from its ARN); returns the message id."""
    import boto3

    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else None
    client = boto3.client("sns", region_name=region or None)
    # SNS subjects: at most 100 printable ASCII characters, no line breaks
    clean = "".join(c if c.isascii() and c.isprintable() else " " for c in subject)[:100]
    return str(client.publish(TopicArn=topic_arn, Subject=clean, Message=message)["MessageId"])


def _redact(text: str) -> str:
    """Airflow's secrets masker (the values it was told about), then cardpipe's one redaction (every DSN and
    URL form, PEM blocks, the cardpipe settings' passwords and keys): an exception may quote a connection."""
    import contextlib

    from cardpipe import redaction

    with contextlib.suppress(Exception):
        from airflow.sdk.log import redact

        text = str(redact(text))
    with contextlib.suppress(Exception):  # settings that cannot be built: the patterns still apply
        from sportscards_lib.settings import cardpipe_settings

        redaction.register_settings(cardpipe_settings())
    return redaction.redact(text)


def alert_on_failure(context: Any) -> None:
    """Fail loudly: an ERROR log line (CloudWatch metric filter on MWAA) and, when configured, an SNS message.

    The topic comes from alerts_topic_arn(). The callback never raises: a broken alert channel must not mask
    the task's own failure.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", context.get("run_id", "?"))
    error = context.get("exception")
    message = _redact(f"sportscards ALERT: {dag_id}.{task_id} failed in run {run_id}: {error!r}")
    log.error(message)
    try:
        topic = alerts_topic_arn()
        if topic:
            publish_alert(topic, f"{dag_id} failed", message)
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
