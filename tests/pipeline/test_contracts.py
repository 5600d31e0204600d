"""Contract round trips (encode_event -> decode) for every event type, exact money, typed rejections."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cardpipe.contracts.codec import DecodedEvent, Reason, Rejection, decode, encode_event
from cardpipe.contracts.money import decimal_to_money, money_to_decimal, money_to_str
from cardpipe.contracts.registry import EVENT_TYPES
from cardpipe.generator import MALFORMED_REASONS, payloads
from cardpipe.generator.malformed import BUILDERS
from cardpipe.generator.world import CardState
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st
from sportscards.orders.v1 import orders_pb2

AT = datetime(2026, 2, 1, 12, 30, 45, 123456, tzinfo=UTC)
CARD = CardState(
    sku="SKU-1", player_name="Alex Smith", team="Boston Celtics", sport="basketball", set_name="Prizm",
    set_year=2024, parallel="Gold /10", print_run=10, is_rookie=True, list_price=Decimal("1234.567890123"),
)  # fmt: skip
CARD_VIEW = {
    "sku": "SKU-1", "player_name": "Alex Smith", "team": "Boston Celtics", "sport": "basketball",
    "set_name": "Prizm", "set_year": 2024, "parallel": "Gold /10", "print_run": 10, "is_rookie": True,
    "list_price": {"amount": "1234.567890123", "currency_code": "USD"},
}  # fmt: skip

CASES: list[tuple[str, Message, dict[str, object]]] = [
    ("card_created", payloads.card_created(CARD), CARD_VIEW),
    (
        "card_updated",
        payloads.card_updated(replace(CARD, list_price=Decimal("0.1"), print_run=None)),
        {**CARD_VIEW, "print_run": None, "list_price": {"amount": "0.1", "currency_code": "USD"}},
    ),
    (
        "order_placed",
        payloads.order_placed(
            "ORD-1",
            "CUST-1",
            "marketplace",
            [
                ("SKU-1", 3, Decimal("0.1")),
                ("SKU-2", 1, Decimal("0.2")),
                ("SKU-3", 2, Decimal("0.000000001")),
            ],
        ),
        {
            "order_id": "ORD-1",
            "customer_id": "CUST-1",
            "channel": "marketplace",
            "currency_code": "USD",
            "lines": [
                {"line_number": 1, "sku": "SKU-1", "quantity": 3, "unit_price": "0.1"},
                {"line_number": 2, "sku": "SKU-2", "quantity": 1, "unit_price": "0.2"},
                {"line_number": 3, "sku": "SKU-3", "quantity": 2, "unit_price": "0.000000001"},
            ],
        },
    ),
    (
        "order_status_changed",
        payloads.status_changed("ORD-1", "refunded", "damaged in transit"),
        {"order_id": "ORD-1", "status": "refunded", "reason": "damaged in transit"},
    ),
    (
        "order_status_changed",
        payloads.status_changed("ORD-1", "paid"),
        {"order_id": "ORD-1", "status": "paid", "reason": None},
    ),
    (
        "batch_started",
        payloads.batch_started("B-1", "SKU-1", "dallas-tx", 500),
        {"batch_id": "B-1", "sku": "SKU-1", "facility": "dallas-tx", "planned_units": 500},
    ),
    (
        "batch_completed",
        payloads.batch_completed("B-1", "SKU-1", "dallas-tx", 500, 490, 12),
        {
            "batch_id": "B-1",
            "sku": "SKU-1",
            "facility": "dallas-tx",
            "planned_units": 500,
            "produced_units": 490,
            "defective_units": 12,
        },
    ),
]


def test_every_event_type_has_a_round_trip_case() -> None:
    assert {event_type for event_type, _, _ in CASES} == set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("event_type", "payload", "view"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_round_trip(event_type: str, payload: Message, view: dict[str, object]) -> None:
    event_id = str(uuid.uuid4())
    decoded = decode(encode_event(event_id=event_id, event_type=event_type, occurred_at=AT, payload=payload))
    assert isinstance(decoded, DecodedEvent)
    assert decoded.event_id == event_id
    assert decoded.event_type == event_type
    assert decoded.occurred_at == AT
    assert decoded.producer == EVENT_TYPES[event_type].producer
    assert decoded.schema_version == 1
    assert decoded.payload == view


def test_decimal_amounts_stay_exact_through_the_wire() -> None:
    """0.1 + 0.2 is 0.3 exactly, as it never was in float; 9 places and large units survive."""
    body = encode_event(
        event_id=str(uuid.uuid4()),
        event_type="order_placed",
        occurred_at=AT,
        payload=payloads.order_placed(
            "ORD-2",
            "CUST-1",
            "web",
            [("A", 1, Decimal("0.1")), ("B", 1, Decimal("0.2")), ("C", 7, Decimal("123456789012.999999999"))],
        ),
    )
    decoded = decode(body)
    assert isinstance(decoded, DecodedEvent)
    prices = [Decimal(line["unit_price"]) for line in decoded.payload["lines"]]
    assert prices[0] + prices[1] == Decimal("0.3")
    assert prices[2] * 7 == Decimal("864197523090.999999993")
    assert decoded.payload["lines"][2]["unit_price"] == "123456789012.999999999"


def test_decimal_to_money_refuses_a_tenth_decimal_place() -> None:
    with pytest.raises(ValueError, match="more than 9 decimal places"):
        decimal_to_money(Decimal("0.0000000001"), "USD")


def test_negative_money_is_rejected_by_the_codec() -> None:
    placed = payloads.order_placed("ORD-3", "CUST-1", "web", [("A", 1, Decimal("1"))])
    placed.lines[0].unit_price.CopyFrom(decimal_to_money(Decimal("-0.5"), "USD"))
    body = encode_event(event_id=str(uuid.uuid4()), event_type="order_placed", occurred_at=AT, payload=placed)
    result = decode(body)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.INVALID_VALUE
    assert "negative" in result.detail


AMOUNTS = st.decimals(
    min_value=Decimal("-999999999999"), max_value=Decimal("999999999999"), places=9, allow_nan=False
)


@given(AMOUNTS)
def test_money_round_trip_is_exact(amount: Decimal) -> None:
    money = decimal_to_money(amount, "USD")
    assert money_to_decimal(money) == amount
    assert Decimal(money_to_str(money.units, money.nanos)) == amount
    assert (money.units >= 0 and money.nanos >= 0) or (money.units <= 0 and money.nanos <= 0)
    assert abs(money.nanos) < 1_000_000_000


@given(AMOUNTS)
def test_money_text_has_no_trailing_zeros(amount: Decimal) -> None:
    text = money_to_str(*_parts(amount))
    assert not ("." in text and text.endswith("0"))
    assert not text.endswith(".")


def _parts(amount: Decimal) -> tuple[int, int]:
    money = decimal_to_money(amount, "USD")
    return money.units, money.nanos


@pytest.mark.parametrize("kind", sorted(MALFORMED_REASONS))
def test_every_malformed_kind_is_rejected_with_its_reason(kind: str) -> None:
    event_id = str(uuid.uuid4())
    (event_type, _producer), body = BUILDERS[kind](random.Random(1), event_id, AT, "SKU-1")
    result = decode(body)
    assert isinstance(result, Rejection)
    assert result.reason is MALFORMED_REASONS[kind]
    assert result.event_type == event_type
    assert result.event_id == (event_id if event_type else None)


def test_negative_quantity_is_an_invalid_value() -> None:
    placed = orders_pb2.OrderPlaced(order_id="O", customer_id="C", channel=orders_pb2.SALES_CHANNEL_WEB,
                                    currency_code="USD")  # fmt: skip
    placed.lines.add(line_number=1, sku="A", quantity=-3, unit_price=decimal_to_money(Decimal("1"), "USD"))
    result = decode(
        encode_event(event_id=str(uuid.uuid4()), event_type="order_placed", occurred_at=AT, payload=placed)
    )
    assert isinstance(result, Rejection)
    assert result.reason is Reason.INVALID_VALUE
    assert result.detail == "lines[0].quantity must be positive, got -3"


@pytest.mark.parametrize(
    ("numbers", "reason", "detail"),
    [
        ([2, 0], Reason.MISSING_REQUIRED_FIELD, "lines[1].line_number is not set"),
        ([0, 0], Reason.MISSING_REQUIRED_FIELD, "lines[0].line_number is not set"),
        ([1, 3, 1], Reason.INVALID_VALUE, "lines[2].line_number 1 repeats an earlier line"),
    ],
)
def test_orders_with_missing_or_repeated_line_numbers_are_quarantined(
    numbers: list[int], reason: Reason, detail: str
) -> None:
    """[2, 0] used to become lines 2 and 2 (`or index + 1`): one order_line_key twice, revenue counted twice
    and every later MERGE refused."""
    placed = orders_pb2.OrderPlaced(order_id="O", customer_id="C", channel=orders_pb2.SALES_CHANNEL_WEB,
                                    currency_code="USD")  # fmt: skip
    for number in numbers:
        placed.lines.add(
            line_number=number, sku="A", quantity=1, unit_price=decimal_to_money(Decimal("1"), "USD")
        )
    result = decode(
        encode_event(event_id=str(uuid.uuid4()), event_type="order_placed", occurred_at=AT, payload=placed)
    )
    assert isinstance(result, Rejection)
    assert (result.reason, result.detail) == (reason, detail)


def test_line_numbers_need_not_be_contiguous_or_sorted() -> None:
    placed = orders_pb2.OrderPlaced(order_id="O", customer_id="C", channel=orders_pb2.SALES_CHANNEL_WEB,
                                    currency_code="USD")  # fmt: skip
    for number in (3, 1):
        placed.lines.add(
            line_number=number, sku="A", quantity=1, unit_price=decimal_to_money(Decimal("1"), "USD")
        )
    result = decode(
        encode_event(event_id=str(uuid.uuid4()), event_type="order_placed", occurred_at=AT, payload=placed)
    )
    assert isinstance(result, DecodedEvent)
    assert [line["line_number"] for line in result.payload["lines"]] == [3, 1]
