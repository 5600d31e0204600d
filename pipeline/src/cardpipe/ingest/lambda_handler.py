"""AWS Lambda handler for the Amazon MQ for RabbitMQ event source mapping: one invocation = one bronze batch.

The event (eventSource "aws:rmq") groups messages by "<queue>::<vhost>" in `rmqMessagesByQueue`; each has
`basicProperties`, `redelivered` and the body as base64 `data`. Bronze settings come from the environment
(BRONZE_BACKEND=s3, BRONZE_S3_BUCKET, ...). If the write fails the handler raises, so Lambda retries the
whole batch (at-least-once); bad messages are quarantined and never make it raise. The mapping does not
expose the routing key, so `routing_key` is null and the source queue is recorded instead.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import BronzeSettings, ConfigError
from cardpipe.ingest.landing import Incoming, land, live_names
from cardpipe.logs import configure_logging, get_logger

EVENT_SOURCE = "aws:rmq"

configure_logging("json")
log = get_logger("cardpipe.lambda")
_stores: dict[BronzeSettings, BronzeStore] = {}


def _store() -> BronzeStore:
    """One store (boto3 client) per container and configuration, reused across warm invocations."""
    try:
        settings = BronzeSettings()
    except ValueError as exc:
        raise ConfigError(f"invalid bronze configuration: {exc}") from None
    if settings not in _stores:
        _stores[settings] = open_store(settings)
    return _stores[settings]


def _body(data: str) -> bytes:
    """The message bytes; a `data` that is not base64 is kept as its text so it is quarantined, not lost."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return data.encode()


def iter_messages(event: Mapping[str, Any]) -> Iterator[Incoming]:
    """(body, ingest metadata) for every message of an aws:rmq event."""
    source = event.get("eventSource")
    if source != EVENT_SOURCE:
        raise ValueError(f"expected an {EVENT_SOURCE} event, got eventSource={source!r}: check the trigger")
    for queue_vhost, messages in event.get("rmqMessagesByQueue", {}).items():
        queue, _, vhost = str(queue_vhost).rpartition("::")
        for message in messages:
            meta = {
                "redelivered": bool(message.get("redelivered", False)),
                "routing_key": None,
                "queue": queue,
                "vhost": vhost,
            }
            yield _body(message.get("data") or ""), meta


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Land the invocation's messages; returns the counts, raises if bronze could not be written."""
    request_id = getattr(context, "aws_request_id", None) or uuid.uuid4().hex
    store = _store()
    messages = list(iter_messages(event))
    counts = land(store, messages, source="live", name_factory=live_names(f"lambda-{request_id[:8]}"))
    log.info("lambda.landed", request_id=request_id, store=store.describe(), **counts.as_log())
    return {"status": "ok", **counts.as_log()}
