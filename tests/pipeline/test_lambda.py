"""The Lambda handler, invoked with aws:rmq events of the exact shape AWS delivers, against moto S3."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import boto3
import pytest
from cardpipe.bronze.store import open_store
from cardpipe.config import BronzeSettings
from cardpipe.ingest import lambda_handler

from .test_landing import poison_messages, read_lines, valid_events


def rmq_message(body: bytes | str, *, redelivered: bool = False) -> dict[str, Any]:
    data = body if isinstance(body, str) else base64.b64encode(body).decode()
    return {
        "basicProperties": {
            "contentType": "application/x-protobuf",
            "contentEncoding": None,
            "headers": {"header1": {"bytes": [118, 97, 108, 117, 101, 49]}, "numberInHeader": 10},
            "deliveryMode": 2,
            "priority": 0,
            "correlationId": None,
            "replyTo": None,
            "expiration": None,
            "messageId": None,
            "timestamp": "Jan 1, 1970, 12:33:41 AM",
            "type": None,
            "userId": "AIDACKCEVSQ6C2EXAMPLE",
            "appId": None,
            "clusterId": None,
            "bodySize": len(data),
        },
        "redelivered": redelivered,
        "data": data,
    }


def rmq_event(messages_by_queue: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "eventSource": "aws:rmq",
        "eventSourceArn": "arn:aws:mq:us-east-1:111122223333:broker:sportscards:b-9bcfa592-423a-4942-879d",
        "rmqMessagesByQueue": messages_by_queue,
    }


class Context:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"


@pytest.fixture
def lambda_env(s3_bronze: BronzeSettings, monkeypatch: pytest.MonkeyPatch) -> BronzeSettings:
    monkeypatch.setenv("BRONZE_BACKEND", "s3")
    monkeypatch.setenv("BRONZE_S3_BUCKET", s3_bronze.s3_bucket or "")
    monkeypatch.setenv("BRONZE_S3_PREFIX", s3_bronze.s3_prefix)
    monkeypatch.setenv("BRONZE_S3_ENDPOINT_URL", s3_bronze.s3_endpoint_url or "")
    return s3_bronze


def test_lands_events_and_quarantine_from_every_queue(lambda_env: BronzeSettings) -> None:
    events = valid_events(10)
    poison = poison_messages()
    bodies = list(events.values())
    event = rmq_event(
        {
            "sportscards.events.bronze::/": [rmq_message(b) for b in bodies[:6]]
            + [rmq_message(p) for p in poison.values()],
            "sportscards.events.bronze::prod": [rmq_message(b, redelivered=True) for b in bodies[6:]],
        }
    )

    result = lambda_handler.handler(event, Context())

    assert result["status"] == "ok"
    assert (result["messages"], result["events"], result["quarantined"]) == (15, 10, 5)
    store = open_store(lambda_env)
    keys = list(store.list("raw/"))
    assert keys and all("/live-" in k and "-lambda-c6af9ac6-000001.ndjson.gz" in k for k in keys)
    lines = read_lines(store, "raw/events/source=live/")
    assert sorted(line["event_id"] for line in lines) == sorted(events)
    by_id = {line["event_id"]: line["ingest"] for line in lines}
    redelivered = {eid for eid, body in events.items() if body in bodies[6:]}
    assert {eid for eid, ingest in by_id.items() if ingest["redelivered"]} == redelivered
    assert {ingest["vhost"] for ingest in by_id.values()} == {"/", "prod"}
    assert {ingest["queue"] for ingest in by_id.values()} == {"sportscards.events.bronze"}
    reasons = sorted(line["reason"] for line in read_lines(store, "raw/quarantine/source=live/"))
    assert reasons == sorted(poison)
    # Objects are really in the bucket under the configured prefix (not somewhere else).
    listed = boto3.client("s3", endpoint_url=lambda_env.s3_endpoint_url).list_objects_v2(
        Bucket=lambda_env.s3_bucket
    )
    assert all(obj["Key"].startswith("sportscards/raw/") for obj in listed["Contents"])


def test_data_that_is_not_base64_is_quarantined_not_lost(lambda_env: BronzeSettings) -> None:
    result = lambda_handler.handler(rmq_event({"q::/": [rmq_message("%%% not base64 %%%")]}), Context())
    assert result["quarantined"] == 1
    (line,) = read_lines(open_store(lambda_env), "raw/quarantine/")
    assert line["reason"] == "undecodable"
    assert base64.b64decode(line["raw_b64"]) == b"%%% not base64 %%%"


def test_write_failure_raises_so_lambda_retries(
    lambda_env: BronzeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRONZE_S3_BUCKET", f"missing-{uuid.uuid4().hex[:10]}")
    event = rmq_event({"q::/": [rmq_message(b) for b in valid_events(2).values()]})
    with pytest.raises(Exception, match="NoSuchBucket"):
        lambda_handler.handler(event, Context())


def test_rejects_events_from_another_source(lambda_env: BronzeSettings) -> None:
    with pytest.raises(ValueError, match="aws:rmq"):
        lambda_handler.handler({"eventSource": "aws:sqs", "Records": []}, Context())
