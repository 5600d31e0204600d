"""A small, hand-checkable journal for the end-to-end test: real envelopes, a duplicate, a malformed row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
from cardpipe.config import PostgresSettings
from cardpipe.contracts.codec import encode_event
from cardpipe.sources.journal import ensure_schema
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1 import money_pb2
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

# Recent, so dbt source freshness and the volume checks see live-looking data.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def _money(units: int, nanos: int = 0) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", units=units, nanos=nanos)


def _card(sku: str, price_units: int) -> catalog_pb2.Card:
    return catalog_pb2.Card(
        sku=sku,
        player_name="Ken Griffey Jr.",
        team="Seattle Mariners",
        sport=catalog_pb2.SPORT_BASEBALL,
        set_name="Upper Deck",
        set_year=1989,
        parallel="Base",
        is_rookie=True,
        list_price=_money(price_units),
    )


def events() -> list[tuple[str, str, datetime, bytes]]:
    """(event_id, event_type, occurred_at, body); the order is the journal's seq order."""
    order = orders_pb2.OrderPlaced(
        order_id="o-1",
        customer_id="c-1",
        channel=orders_pb2.SALES_CHANNEL_WEB,
        currency_code="USD",
        lines=[
            orders_pb2.OrderLine(line_number=1, sku="sku-1", quantity=2, unit_price=_money(19, 990_000_000)),
            orders_pb2.OrderLine(line_number=2, sku="sku-2", quantity=1, unit_price=_money(5)),
        ],
    )
    order2 = orders_pb2.OrderPlaced(
        order_id="o-2",
        customer_id="c-2",
        channel=orders_pb2.SALES_CHANNEL_MOBILE_APP,
        currency_code="USD",
        lines=[orders_pb2.OrderLine(line_number=1, sku="sku-1", quantity=1, unit_price=_money(20))],
    )
    specs = [
        ("e-1", "card_created", catalog_pb2.CardCreated(card=_card("sku-1", 20))),
        ("e-2", "card_created", catalog_pb2.CardCreated(card=_card("sku-2", 5))),
        ("e-3", "order_placed", order),
        ("e-4", "order_placed", order2),
        (
            "e-5",
            "order_status_changed",
            orders_pb2.OrderStatusChanged(order_id="o-1", status=orders_pb2.ORDER_STATUS_PAID),
        ),
        (
            "e-6",
            "order_status_changed",
            orders_pb2.OrderStatusChanged(
                order_id="o-2", status=orders_pb2.ORDER_STATUS_CANCELLED, reason="customer request"
            ),
        ),
        (
            "e-7",
            "batch_started",
            manufacturing_pb2.BatchStarted(
                batch_id="b-1", sku="sku-1", facility="plant-a", planned_units=100
            ),
        ),
        (
            "e-8",
            "batch_completed",
            manufacturing_pb2.BatchCompleted(
                batch_id="b-1",
                sku="sku-1",
                facility="plant-a",
                planned_units=100,
                produced_units=98,
                defective_units=2,
            ),
        ),
    ]
    rows = []
    for i, (name, event_type, payload) in enumerate(specs):
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sportscards-airflow-test/{name}"))
        occurred = BASE + timedelta(minutes=i)
        rows.append(
            (
                event_id,
                event_type,
                occurred,
                encode_event(event_id=event_id, event_type=event_type, occurred_at=occurred, payload=payload),
            )
        )
    rows.append(rows[2])  # a producer retry: the same order_placed twice (counts once in the marts)
    return rows


def seed(settings: PostgresSettings) -> dict[str, int]:
    """Write the journal; returns counts the test checks against (valid rows, distinct events, malformed)."""
    rows = events()
    conn = psycopg2.connect(settings.dsn)
    try:
        ensure_schema(conn, settings.journal_schema)
        with conn, conn.cursor() as cur:
            for event_id, event_type, occurred, body in rows:
                cur.execute(
                    f"INSERT INTO {settings.journal_schema}.events"
                    " (event_id, event_type, occurred_at, producer, body)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (event_id, event_type, occurred, "test", psycopg2.Binary(body)),
                )
            # a malformed row: the producer could not read an envelope, so no id or type was copied out
            cur.execute(
                f"INSERT INTO {settings.journal_schema}.events (occurred_at, body) VALUES (%s, %s)",
                (BASE, psycopg2.Binary(b"\xffnot a protobuf")),
            )
    finally:
        conn.close()
    return {"valid_rows": len(rows), "distinct_events": len({r[0] for r in rows}), "malformed": 1}
