"""A newer producer adds fields this reader does not know: the event still lands, and nothing is lost.

The decoded view reflects this reader's contract; the original bytes travel with the event (`raw_b64`), so
a replay with the newer contract recovers the new fields.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cardpipe.bronze.store import LocalStore
from cardpipe.contracts.codec import DecodedEvent, decode
from cardpipe.ingest.landing import land, live_names
from google.protobuf.any_pb2 import Any as AnyMessage
from sportscards.envelope.v1.envelope_pb2 import EventEnvelope
from sportscards.orders.v1 import orders_pb2

from .test_landing import live_meta, order_placed, read_lines

# Field 99 (varint 7) and field 98 (length-delimited "gift-wrap"): fields a v1.1 producer might add.
NEW_PAYLOAD_FIELDS = b"\x98\x06\x07" + b"\x92\x06\x09gift-wrap"
NEW_ENVELOPE_FIELD = b"\xba\x03\x05trace"  # field 55, a string


def newer_producer_body(event_id: str) -> bytes:
    envelope = EventEnvelope.FromString(order_placed(event_id))
    payload = AnyMessage(
        type_url=envelope.payload.type_url, value=envelope.payload.value + NEW_PAYLOAD_FIELDS
    )
    envelope.payload.CopyFrom(payload)
    return envelope.SerializeToString() + NEW_ENVELOPE_FIELD


def test_unknown_fields_are_decoded_and_kept_in_the_original_bytes(tmp_path: Path) -> None:
    event_id = str(uuid.uuid4())
    body = newer_producer_body(event_id)

    decoded = decode(body)
    assert isinstance(decoded, DecodedEvent), decoded
    assert decoded.payload["lines"][0]["quantity"] == 2

    store = LocalStore(tmp_path)
    counts = land(
        store,
        live_meta([body]),
        source="live",
        name_factory=live_names("evolution"),
        ingested_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert counts.events == 1 and counts.quarantined_total == 0
    (line,) = read_lines(store, "raw/events/")
    original = base64.b64decode(line["raw_b64"])
    assert original == body  # byte for byte, new fields included
    envelope = EventEnvelope.FromString(original)
    assert NEW_PAYLOAD_FIELDS in envelope.payload.value  # what a newer reader will parse on replay
    replayed = orders_pb2.OrderPlaced.FromString(envelope.payload.value)
    assert replayed.order_id == line["payload"]["order_id"]
