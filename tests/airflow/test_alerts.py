# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""The failure alert reaches a real SNS topic (moto server over HTTP): the topic infra sets as an MWAA
option (SPORTSCARDS_ALERTS_TOPIC_ARN), else the Airflow Variable. An SQS queue subscribed to it reads it
back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from cardpipe.contracts import names


class _TI:
    dag_id, task_id, run_id = names.DAG_DATA_QUALITY, "quality_tests", "manual__1"


def _topic_with_queue(region: str) -> tuple[str, Any, str]:
    import boto3

    sns = boto3.client("sns", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, sqs, queue_url


def _received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in messages]


def test_alert_goes_to_the_topic_infra_configures(
    aws_env: str, restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The option is set the way MWAA sets it; the topic lives in another region than the worker's default:
    the client must use the topic's region (from its ARN)."""
    from sportscards_lib.defaults import alert_on_failure

    topic, sqs, queue_url = _topic_with_queue("eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv(names.ENV_ALERTS_TOPIC_ARN, raising=False)
    monkeypatch.setenv(names.airflow_config_env(names.mwaa_option(names.ENV_ALERTS_TOPIC_ARN)), topic)
    monkeypatch.setenv(
        f"AIRFLOW_VAR_{names.VAR_ALERTS_TOPIC.upper()}", "arn:aws:sns:eu-west-1:1:not-this-one"
    )

    alert_on_failure({"ti": _TI(), "exception": RuntimeError("reconciliation failed")})

    (message,) = _received(sqs, queue_url)
    assert message["TopicArn"] == topic
    assert message["Subject"] == f"{names.DAG_DATA_QUALITY} failed"
    assert "sportscards ALERT: data_quality.quality_tests failed in run manual__1" in message["Message"]
    assert "reconciliation failed" in message["Message"]


def test_alert_falls_back_to_the_airflow_variable(
    aws_env: str, restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No option (e.g. a self-managed Airflow): the Variable, through Airflow's secrets lookup."""
    from sportscards_lib.defaults import alert_on_failure

    topic, sqs, queue_url = _topic_with_queue("us-east-1")
    monkeypatch.delenv(names.ENV_ALERTS_TOPIC_ARN, raising=False)
    monkeypatch.delenv(names.airflow_config_env(names.mwaa_option(names.ENV_ALERTS_TOPIC_ARN)), raising=False)
    monkeypatch.setenv(f"AIRFLOW_VAR_{names.VAR_ALERTS_TOPIC.upper()}", topic)

    alert_on_failure({"ti": _TI(), "exception": RuntimeError("boom")})

    (message,) = _received(sqs, queue_url)
    assert message["TopicArn"] == topic and "boom" in message["Message"]


def test_unpublishable_alert_never_raises(
    aws_env: str, restore_environ: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A topic that does not exist: logged, not raised (the task's own failure must stay visible)."""
    import logging

    from sportscards_lib.defaults import alert_on_failure

    monkeypatch.setenv(names.ENV_ALERTS_TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    with caplog.at_level(logging.ERROR, logger="sportscards.alerts"):
        alert_on_failure({"ti": _TI(), "exception": RuntimeError("boom")})
    assert any("could not be published" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    "error",
    [
        "could not connect to host=db port=5432 password='s3cret pw' dbname=journal",
        "could not connect to postgresql://app@db/journal?sslpassword=s3cret-pw&password=s3cret-pw",
        "could not connect to postgresql://:s3cret-pw@db/journal",
        "bad key -----BEGIN PRIVATE KEY-----\nMIIEvs3cret-pwMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    ],
    ids=["key/value", "query", "url without user", "pem"],
)
def test_alert_text_never_holds_a_password(
    error: str, restore_environ: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow's masker only knows the values it was told about: the alert (log line and SNS text) goes
    through cardpipe's one redaction as well, for every DSN and URL form."""
    import logging

    from sportscards_lib import defaults

    published: list[str] = []
    monkeypatch.setattr(defaults, "alerts_topic_arn", lambda: "arn:aws:sns:us-east-1:1:t")
    monkeypatch.setattr(defaults, "publish_alert", lambda _t, _s, message: published.append(message) or "id")
    with caplog.at_level(logging.ERROR, logger="sportscards.alerts"):
        defaults.alert_on_failure({"ti": _TI(), "exception": RuntimeError(error)})
    texts = [r.getMessage() for r in caplog.records] + published
    assert len(published) == 1 and all("could not connect" in t or "bad key" in t for t in texts)
    assert not [t for t in texts if "s3cret" in t], texts
