"""Malformed event bodies, one builder per kind, each rejected by the codec with a known Reason."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from cardpipe.contracts.codec import Reason, encode_event
from cardpipe.generator import payloads

# generator kind -> the Reason the codec must quarantine it with
MALFORMED_REASONS: dict[str, Reason] = {
    "garbage": Reason.UNDECODABLE,
    "wrong_message_type": Reason.WRONG_MESSAGE_TYPE,
    "missing_required_field": Reason.MISSING_REQUIRED_FIELD,
    "negative_quantity": Reason.INVALID_VALUE,
    "unknown_event_type": Reason.UNKNOWN_EVENT_TYPE,
}
UNKNOWN_EVENT_TYPE = "card_graded"
UNKNOWN_PRODUCER = "grading-service"

# kind -> (event_type, producer) recorded alongside the body; None for garbage
Header = tuple[str | None, str | None]


def _garbage(rng: random.Random, event_id: str, at: datetime, sku: str) -> tuple[Header, bytes]:
    # 0x0f is field 1 with wire type 7, which does not exist: never parses, whatever follows.
    return (None, None), b"\x0f" + rng.randbytes(rng.randint(4, 60))


def _wrong_message_type(rng: random.Random, event_id: str, at: datetime, sku: str) -> tuple[Header, bytes]:
    body = encode_event(
        event_id=event_id,
        event_type="order_placed",
        occurred_at=at,
        payload=payloads.status_changed(f"ORD-BAD-{event_id[:8]}", "paid"),
    )
    return ("order_placed", "orders-service"), body


def _missing_required_field(
    rng: random.Random, event_id: str, at: datetime, sku: str
) -> tuple[Header, bytes]:
    placed = payloads.order_placed(f"ORD-BAD-{event_id[:8]}", "", "web", [(sku, 1, payloads.CENT_PRICE)])
    body = encode_event(event_id=event_id, event_type="order_placed", occurred_at=at, payload=placed)
    return ("order_placed", "orders-service"), body


def _negative_quantity(rng: random.Random, event_id: str, at: datetime, sku: str) -> tuple[Header, bytes]:
    placed = payloads.order_placed(
        f"ORD-BAD-{event_id[:8]}", "CUST-000001", "web", [(sku, -rng.randint(1, 5), payloads.CENT_PRICE)]
    )
    body = encode_event(event_id=event_id, event_type="order_placed", occurred_at=at, payload=placed)
    return ("order_placed", "orders-service"), body


def _unknown_event_type(rng: random.Random, event_id: str, at: datetime, sku: str) -> tuple[Header, bytes]:
    body = encode_event(
        event_id=event_id,
        event_type=UNKNOWN_EVENT_TYPE,
        occurred_at=at,
        payload=payloads.status_changed(f"ORD-BAD-{event_id[:8]}", "paid"),
        producer=UNKNOWN_PRODUCER,
    )
    return (UNKNOWN_EVENT_TYPE, UNKNOWN_PRODUCER), body


BUILDERS: dict[str, Callable[[random.Random, str, datetime, str], tuple[Header, bytes]]] = {
    "garbage": _garbage,
    "wrong_message_type": _wrong_message_type,
    "missing_required_field": _missing_required_field,
    "negative_quantity": _negative_quantity,
    "unknown_event_type": _unknown_event_type,
}
assert set(BUILDERS) == set(MALFORMED_REASONS)
