"""Protobuf payload builders for the generator (money through decimal_to_money, with a cache)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.envelope.v1.envelope_pb2 import EventEnvelope
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


def money(amount: Decimal) -> Money:
    units, nanos = _money_parts(amount)
    return Money(currency_code=CURRENCY, units=units, nanos=nanos)


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
    order_id: str, customer_id: str, channel: str, lines: list[tuple[str, int, Decimal]]
) -> orders_pb2.OrderPlaced:
    return orders_pb2.OrderPlaced(
        order_id=order_id,
        customer_id=customer_id,
        channel=CHANNELS[channel],
        currency_code=CURRENCY,
        lines=[
            orders_pb2.OrderLine(line_number=n, sku=sku, quantity=qty, unit_price=money(price))
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


def encode_body(event_id: str, event_type: str, occurred_us: int, payload: Message) -> bytes:
    """Byte-for-byte what `codec.encode_event` produces, without its datetime conversion.

    The generator encodes millions of envelopes; FromDatetime is a third of encode_event's cost.
    tests/pipeline/test_generator.py checks the two stay identical.
    """
    spec = EVENT_TYPES[event_type]
    seconds, micros = divmod(occurred_us, 1_000_000)
    envelope = EventEnvelope(
        event_id=event_id,
        event_type=event_type,
        schema_version=spec.schema_version,
        producer=spec.producer,
        occurred_at=Timestamp(seconds=seconds, nanos=micros * 1000),
        payload=AnyMessage(type_url=spec.type_url, value=payload.SerializeToString()),
    )
    return envelope.SerializeToString()


PRODUCERS: dict[str, str] = {name: spec.producer for name, spec in EVENT_TYPES.items()}
