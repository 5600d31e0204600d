"""Decode and validate event envelopes: the landing core shared by the consumer, backfill and Lambda.

`decode()` turns the bytes a producer sent into either a `DecodedEvent` (the JSON-ready view written
to bronze) or a `Rejection` with a typed reason. Payload views are built by hand rather than with
`MessageToDict`: it is about twice as fast, and it lets us render money as exact decimal strings and
enums as short lowercase names. Fields a newer producer added are not in the view, but the original
bytes travel with every event (`raw_b64` in bronze), so nothing is lost and a replay with a newer
contract recovers them.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.envelope.v1.envelope_pb2 import EventEnvelope
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

from cardpipe.contracts.money import money_problem, money_to_str
from cardpipe.contracts.registry import EVENT_TYPES, spec_for


class Reason(enum.StrEnum):
    """Why an event was quarantined. Stable strings: they are partition values and SQL filters."""

    UNDECODABLE = "undecodable"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    WRONG_MESSAGE_TYPE = "wrong_message_type"
    MISSING_REQUIRED_FIELD = "missing_required_field"
    INVALID_VALUE = "invalid_value"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    # The landing path's own (cardpipe.ingest: consumer, landing, dead-letter drain), not the decoder's.
    UNSERIALIZABLE = "unserializable"  # the bronze line could not be built (e.g. metadata JSON cannot hold)
    INVALID_ROUTING_KEY = "invalid_routing_key"  # the AMQP routing key is not UTF-8 text
    INVALID_PROPERTIES = "invalid_properties"  # AMQP properties/headers could not be read
    DEAD_LETTERED = "dead_lettered"  # drained from the dead-letter queue


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    event_id: str
    event_type: str
    schema_version: int
    occurred_at: datetime
    producer: str
    payload: dict[str, Any]

    def to_record(self) -> dict[str, Any]:
        """The decoded half of a bronze line (ingestion adds raw_b64 and ingest metadata)."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "occurred_at": format_ts(self.occurred_at),
            "producer": self.producer,
            "payload": self.payload,
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str
    event_id: str | None = None
    event_type: str | None = None


class InvalidEvent(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def format_ts(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z, the one timestamp format in bronze.

    Same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ") (the fields as given), via isoformat: ~2x faster.
    """
    if value.tzinfo is UTC:  # every decoded timestamp: drop "+00:00" rather than build a naive copy
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_to_datetime(ts: Timestamp) -> datetime:
    """Raises ValueError/OverflowError for a Timestamp outside datetime's range (years 1..9999)."""
    return _EPOCH + timedelta(0, ts.seconds, ts.nanos // 1000)


# --------------------------------------------------------------------------- encoding


def encode_event(
    *,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    payload: Message,
    producer: str | None = None,
    schema_version: int | None = None,
) -> bytes:
    """Serialize an envelope; producer and schema version default to the registry's values."""
    spec = spec_for(event_type)
    envelope = EventEnvelope(
        event_id=event_id,
        event_type=event_type,
        schema_version=schema_version if schema_version is not None else (spec.schema_version if spec else 1),
        producer=producer if producer is not None else (spec.producer if spec else "unknown"),
    )
    envelope.occurred_at.FromDatetime(occurred_at)
    envelope.payload.Pack(payload)
    return envelope.SerializeToString()


# --------------------------------------------------------------------------- decoding


def decode(body: bytes) -> DecodedEvent | Rejection:
    """Decode and validate one message body; never raises for bad input."""
    envelope = EventEnvelope()
    try:
        envelope.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        return Rejection(Reason.UNDECODABLE, f"not an EventEnvelope: {exc}")
    # Each protobuf field access builds a new Python object: read the hot ones once.
    event_id = envelope.event_id
    event_type = envelope.event_type
    try:
        return _decode_envelope(envelope, event_id, event_type)
    except InvalidEvent as exc:
        return Rejection(exc.reason, exc.detail, event_id or None, event_type or None)


# The canonical form str(uuid.UUID(x)) produces: most ids already are, and a match skips the parse.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def _canonical_event_id(raw: str) -> str:
    if _CANONICAL_UUID(raw):
        return raw
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise InvalidEvent(Reason.INVALID_VALUE, f"event_id {raw!r} is not a UUID") from None


def _occurred_at(ts: Timestamp) -> datetime:
    seconds, nanos = ts.seconds, ts.nanos  # each protobuf field read builds a Python object: read once
    try:
        if not 0 <= nanos <= 999_999_999:
            raise ValueError("nanos out of range")
        return _EPOCH + timedelta(0, seconds, nanos // 1000)  # timestamp_to_datetime, fields read once
    except (ValueError, OverflowError):
        raise InvalidEvent(
            Reason.INVALID_VALUE, f"occurred_at {seconds}s {nanos}ns is not a valid timestamp"
        ) from None


def _decode_envelope(envelope: EventEnvelope, raw_id: str, raw_type: str) -> DecodedEvent:
    if not raw_id:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "event_id is empty")
    event_id = _canonical_event_id(raw_id)
    if not raw_type:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "event_type is empty")
    spec = EVENT_TYPES.get(raw_type)
    if spec is None:
        raise InvalidEvent(Reason.UNKNOWN_EVENT_TYPE, f"event_type {raw_type!r} is not registered")
    schema_version = envelope.schema_version
    if schema_version != spec.schema_version:
        raise InvalidEvent(
            Reason.UNSUPPORTED_SCHEMA_VERSION,
            f"{spec.event_type} schema_version {schema_version}, this reader knows {spec.schema_version}",
        )
    if not envelope.HasField("occurred_at"):
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "occurred_at is not set")
    occurred_at = _occurred_at(envelope.occurred_at)
    producer = envelope.producer
    if not producer:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "producer is empty")
    if not envelope.HasField("payload"):
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "payload is not set")
    payload_any: AnyMessage = envelope.payload
    type_url = payload_any.type_url
    expected_url = _TYPE_URLS[raw_type]
    if type_url != expected_url:
        raise InvalidEvent(
            Reason.WRONG_MESSAGE_TYPE,
            f"{spec.event_type} carries {type_url or 'an untyped payload'}, expected {expected_url}",
        )
    message = spec.message()
    try:
        message.ParseFromString(payload_any.value)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InvalidEvent(Reason.UNDECODABLE, f"payload is not a valid {expected_url}: {exc}") from None
    view = _VIEWS[raw_type](message)
    return DecodedEvent(
        event_id=event_id,
        event_type=raw_type,
        schema_version=schema_version,
        occurred_at=occurred_at,
        producer=producer,
        payload=view,
    )


# --------------------------------------------------------------------------- payload views + rules


def _require(value: str, field: str) -> str:
    if not value:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, f"{field} is empty")
    return value


# (enum type name, prefix) -> {number: short lowercase name}: built on first use from the enum's own values,
# so a lookup gives exactly what Name() + removeprefix + lower gives, without a Python call per event.
_ENUM_NAMES: dict[tuple[str, str], dict[int, str]] = {}


def _enum_name(value: int, enum_type: Any, prefix: str, field: str) -> str:
    if value == 0:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, f"{field} is unspecified")
    names = _ENUM_NAMES.get((enum_type.DESCRIPTOR.full_name, prefix))
    if names is None:
        names = {number: name.removeprefix(prefix).lower() for name, number in enum_type.items()}
        _ENUM_NAMES[(enum_type.DESCRIPTOR.full_name, prefix)] = names
    name = names.get(value)
    if name is None:
        raise InvalidEvent(Reason.INVALID_VALUE, f"{field} {value} is not a known value")
    return name


def _money(money: Money, field: str, *, has: bool) -> dict[str, str]:
    if not has:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, f"{field} is not set")
    units, nanos, currency_code = money.units, money.nanos, money.currency_code  # read each field once
    problem = money_problem(units, nanos, currency_code)
    if problem:
        raise InvalidEvent(Reason.INVALID_VALUE, f"{field}: {problem}")
    if units < 0 or nanos < 0:
        raise InvalidEvent(Reason.INVALID_VALUE, f"{field} is negative")
    return {"amount": money_to_str(units, nanos), "currency_code": currency_code}


def _non_negative(value: int, field: str) -> int:
    if value < 0:
        raise InvalidEvent(Reason.INVALID_VALUE, f"{field} is negative ({value})")
    return value


def _card_view(card: catalog_pb2.Card, has_card: bool) -> dict[str, Any]:
    if not has_card:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "card is not set")
    if card.set_year == 0:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "card.set_year is not set")
    return {
        "sku": _require(card.sku, "card.sku"),
        "player_name": _require(card.player_name, "card.player_name"),
        "team": _require(card.team, "card.team"),
        "sport": _enum_name(card.sport, catalog_pb2.Sport, "SPORT_", "card.sport"),
        "set_name": _require(card.set_name, "card.set_name"),
        "set_year": card.set_year,
        "parallel": _require(card.parallel, "card.parallel"),
        "print_run": card.print_run if card.HasField("print_run") else None,
        "is_rookie": card.is_rookie,
        "list_price": _money(card.list_price, "card.list_price", has=card.HasField("list_price")),
    }


def _card_created(msg: catalog_pb2.CardCreated) -> dict[str, Any]:
    return _card_view(msg.card, msg.HasField("card"))


def _card_updated(msg: catalog_pb2.CardUpdated) -> dict[str, Any]:
    return _card_view(msg.card, msg.HasField("card"))


def _line_field_names(index: int) -> tuple[str, str, str]:
    return f"lines[{index}]", f"lines[{index}].unit_price", f"lines[{index}].sku"


# The field names of the first lines, built once rather than three f-strings per line of every order.
_LINE_FIELDS = [_line_field_names(index) for index in range(64)]


def _line_fields(index: int) -> tuple[str, str, str]:
    return _LINE_FIELDS[index] if index < len(_LINE_FIELDS) else _line_field_names(index)


def _order_placed(msg: orders_pb2.OrderPlaced) -> dict[str, Any]:
    currency = msg.currency_code
    if not currency:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "currency_code is empty")
    if not msg.lines:
        raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, "order has no lines")
    lines = []
    seen_numbers: set[int] = set()
    for index, line in enumerate(msg.lines):
        field, price_field, sku_field = _line_fields(index)
        # The line number is the line's identity in the marts (order_id, line_number): a missing or repeated
        # one would merge two lines into one key or count one twice, so the whole order is quarantined.
        number = line.line_number
        if number == 0:
            raise InvalidEvent(Reason.MISSING_REQUIRED_FIELD, f"{field}.line_number is not set")
        if number in seen_numbers:
            raise InvalidEvent(Reason.INVALID_VALUE, f"{field}.line_number {number} repeats an earlier line")
        seen_numbers.add(number)
        if line.quantity <= 0:
            raise InvalidEvent(
                Reason.INVALID_VALUE, f"{field}.quantity must be positive, got {line.quantity}"
            )
        price = _money(line.unit_price, price_field, has=line.HasField("unit_price"))
        if price["currency_code"] != currency:
            raise InvalidEvent(
                Reason.INVALID_VALUE,
                f"{field}.unit_price currency {price['currency_code']} "
                f"differs from order currency {currency}",
            )
        lines.append(
            {
                "line_number": number,
                "sku": _require(line.sku, sku_field),
                "quantity": line.quantity,
                "unit_price": price["amount"],
            }
        )
    return {
        "order_id": _require(msg.order_id, "order_id"),
        "customer_id": _require(msg.customer_id, "customer_id"),
        "channel": _enum_name(msg.channel, orders_pb2.SalesChannel, "SALES_CHANNEL_", "channel"),
        "currency_code": currency,
        "lines": lines,
    }


def _order_status_changed(msg: orders_pb2.OrderStatusChanged) -> dict[str, Any]:
    return {
        "order_id": _require(msg.order_id, "order_id"),
        "status": _enum_name(msg.status, orders_pb2.OrderStatus, "ORDER_STATUS_", "status"),
        "reason": msg.reason or None,
    }


def _batch_started(msg: manufacturing_pb2.BatchStarted) -> dict[str, Any]:
    if msg.planned_units <= 0:
        raise InvalidEvent(Reason.INVALID_VALUE, f"planned_units must be positive, got {msg.planned_units}")
    return {
        "batch_id": _require(msg.batch_id, "batch_id"),
        "sku": _require(msg.sku, "sku"),
        "facility": _require(msg.facility, "facility"),
        "planned_units": msg.planned_units,
    }


def _batch_completed(msg: manufacturing_pb2.BatchCompleted) -> dict[str, Any]:
    produced = _non_negative(msg.produced_units, "produced_units")
    defective = _non_negative(msg.defective_units, "defective_units")
    if defective > produced:
        raise InvalidEvent(
            Reason.INVALID_VALUE, f"defective_units ({defective}) exceeds produced_units ({produced})"
        )
    if msg.planned_units <= 0:
        raise InvalidEvent(Reason.INVALID_VALUE, f"planned_units must be positive, got {msg.planned_units}")
    return {
        "batch_id": _require(msg.batch_id, "batch_id"),
        "sku": _require(msg.sku, "sku"),
        "facility": _require(msg.facility, "facility"),
        "planned_units": msg.planned_units,
        "produced_units": produced,
        "defective_units": defective,
    }


_VIEWS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "card_created": _card_created,
    "card_updated": _card_updated,
    "order_placed": _order_placed,
    "order_status_changed": _order_status_changed,
    "batch_started": _batch_started,
    "batch_completed": _batch_completed,
}
assert set(_VIEWS) == set(EVENT_TYPES), "every registered event type needs a payload view"
_TYPE_URLS: dict[str, str] = {name: spec.type_url for name, spec in EVENT_TYPES.items()}
