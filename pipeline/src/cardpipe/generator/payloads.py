"""Protobuf payload builders for the generator (money through decimal_to_money, with a cache)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

from cardpipe.contracts.money import decimal_to_money
from cardpipe.contracts.registry import EVENT_TYPES
from cardpipe.generator.world import CardState

CURRENCY = "USD"
CHANNELS = {
    "web": orders_pb2.SALES_CHANNEL_WEB,
    "mobile_app": orders_pb2.SALES_CHANNEL_MOBILE_APP,
    "marketplace": orders_pb2.SALES_CHANNEL_MARKETPLACE,
    "retail": orders_pb2.SALES_CHANNEL_RETAIL,
}
STATUSES = {
    "paid": orders_pb2.ORDER_STATUS_PAID,
    "shipped": orders_pb2.ORDER_STATUS_SHIPPED,
    "delivered": orders_pb2.ORDER_STATUS_DELIVERED,
    "cancelled": orders_pb2.ORDER_STATUS_CANCELLED,
    "refunded": orders_pb2.ORDER_STATUS_REFUNDED,
}
SPORT_ENUM = {
    "baseball": catalog_pb2.SPORT_BASEBALL,
    "basketball": catalog_pb2.SPORT_BASKETBALL,
    "football": catalog_pb2.SPORT_FOOTBALL,
    "hockey": catalog_pb2.SPORT_HOCKEY,
    "soccer": catalog_pb2.SPORT_SOCCER,
}


@lru_cache(maxsize=65536)
def _money_parts(amount: Decimal) -> tuple[int, int]:
    money = decimal_to_money(amount, CURRENCY)
    return money.units, money.nanos


def money(amount: Decimal, currency: str = CURRENCY) -> Money:
    units, nanos = _money_parts(amount)
    return Money(currency_code=currency, units=units, nanos=nanos)


def card(state: CardState) -> catalog_pb2.Card:
    msg = catalog_pb2.Card(
        sku=state.sku,
        player_name=state.player_name,
        team=state.team,
        sport=SPORT_ENUM[state.sport],
        set_name=state.set_name,
        set_year=state.set_year,
        parallel=state.parallel,
        is_rookie=state.is_rookie,
        list_price=money(state.list_price),
    )
    if state.print_run is not None:
        msg.print_run = state.print_run
    return msg


def card_created(state: CardState) -> catalog_pb2.CardCreated:
    return catalog_pb2.CardCreated(card=card(state))


def card_updated(state: CardState) -> catalog_pb2.CardUpdated:
    return catalog_pb2.CardUpdated(card=card(state))


def order_placed(
    order_id: str,
    customer_id: str,
    channel: str,
    lines: list[tuple[str, int, Decimal]],
    currency: str = CURRENCY,
) -> orders_pb2.OrderPlaced:
    return orders_pb2.OrderPlaced(
        order_id=order_id,
        customer_id=customer_id,
        channel=CHANNELS[channel],
        currency_code=currency,
        lines=[
            orders_pb2.OrderLine(line_number=n, sku=sku, quantity=qty, unit_price=money(price, currency))
            for n, (sku, qty, price) in enumerate(lines, start=1)
        ],
    )


def status_changed(order_id: str, status: str, reason: str = "") -> orders_pb2.OrderStatusChanged:
    return orders_pb2.OrderStatusChanged(order_id=order_id, status=STATUSES[status], reason=reason)


def batch_started(batch_id: str, sku: str, facility: str, planned: int) -> manufacturing_pb2.BatchStarted:
    return manufacturing_pb2.BatchStarted(
        batch_id=batch_id, sku=sku, facility=facility, planned_units=planned
    )


def batch_completed(  # noqa: PLR0917 - mirrors the message's fields
    batch_id: str, sku: str, facility: str, planned: int, produced: int, defective: int
) -> manufacturing_pb2.BatchCompleted:
    return manufacturing_pb2.BatchCompleted(
        batch_id=batch_id,
        sku=sku,
        facility=facility,
        planned_units=planned,
        produced_units=produced,
        defective_units=defective,
    )


CENT_PRICE = Decimal("1.00")


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, value: bytes) -> bytes:
    """A length-delimited protobuf field (tag byte already includes wire type 2)."""
    return bytes((tag,)) + _varint(len(value)) + value


def _envelope_parts(event_type: str) -> tuple[bytes, bytes, bytes]:
    spec = EVENT_TYPES[event_type]
    type_and_version = _field(0x12, event_type.encode()) + b"\x18" + _varint(spec.schema_version)
    return type_and_version, _field(0x2A, spec.producer.encode()), _field(0x0A, spec.type_url.encode())


_ENVELOPE_PARTS = {name: _envelope_parts(name) for name in EVENT_TYPES}


def encode_body(event_id: str, event_type: str, occurred_us: int, payload: Message) -> bytes:
    """Byte-for-byte what `codec.encode_event` produces for a registered type, about 3x faster.

    The generator encodes millions of envelopes, and only the id, the time and the payload change
    between them: the constant fields are pre-encoded (proto3 wire format, fields in number order).
    tests/pipeline/test_generator.py checks every generated body against encode_event.
    """
    type_and_version, producer, type_url = _ENVELOPE_PARTS[event_type]
    seconds, micros = divmod(occurred_us, 1_000_000)
    timestamp = Timestamp(seconds=seconds, nanos=micros * 1000).SerializeToString()
    value = payload.SerializeToString()
    any_payload = type_url + (_field(0x12, value) if value else b"")
    return b"".join((
        _field(0x0A, event_id.encode()),
        type_and_version,
        _field(0x22, timestamp),
        producer,
        _field(0x32, any_payload),
    ))  # fmt: skip


PRODUCERS: dict[str, str] = {name: spec.producer for name, spec in EVENT_TYPES.items()}
