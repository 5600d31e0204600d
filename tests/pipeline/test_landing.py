"""The landing core writes exactly the documented bronze lines, grouped into the documented keys."""

from __future__ import annotations

import base64
import gzip
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cardpipe.bronze.store import BronzeStore, LocalStore, open_store
from cardpipe.config import BronzeSettings
from cardpipe.contracts.codec import encode_event
from cardpipe.ingest import landing
from cardpipe.ingest.landing import QUARANTINE_META, build_objects, land, live_names
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

OCCURRED = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
INGESTED = datetime(2026, 3, 1, 13, 5, 7, 123456, tzinfo=UTC)


# --------------------------------------------------------------------------- event builders (shared by tests)


def order_placed(
    event_id: str | None = None,
    *,
    quantity: int = 2,
    order_id: str = "ORD-1",
    occurred_at: datetime = OCCURRED,
) -> bytes:
    payload = orders_pb2.OrderPlaced(
        order_id=order_id,
        customer_id="CUST-7",
        channel=orders_pb2.SALES_CHANNEL_WEB,
        currency_code="USD",
        lines=[
            orders_pb2.OrderLine(
                line_number=1,
                sku="SKU-00042",
                quantity=quantity,
                unit_price=Money(currency_code="USD", units=19, nanos=990_000_000),
            )
        ],
    )
    return encode_event(
        event_id=event_id or str(uuid.uuid4()),
        event_type="order_placed",
        occurred_at=occurred_at,
        payload=payload,
    )


def batch_started(event_id: str | None = None, *, occurred_at: datetime = OCCURRED) -> bytes:
    payload = manufacturing_pb2.BatchStarted(
        batch_id="B-1", sku="SKU-1", facility="plant-1", planned_units=500
    )
    return encode_event(
        event_id=event_id or str(uuid.uuid4()),
        event_type="batch_started",
        occurred_at=occurred_at,
        payload=payload,
    )


def valid_events(n: int, *, occurred_at: datetime = OCCURRED) -> dict[str, bytes]:
    """n valid events of two types, keyed by event id."""
    out: dict[str, bytes] = {}
    for i in range(n):
        event_id = str(uuid.uuid4())
        builder = order_placed if i % 2 == 0 else batch_started
        out[event_id] = builder(event_id, occurred_at=occurred_at)
    return out


def poison_messages() -> dict[str, bytes]:
    """One message per kind of bad input, keyed by the quarantine reason it must get."""
    card = catalog_pb2.CardCreated(card=catalog_pb2.Card(sku="SKU-1"))
    return {
        "undecodable": b"\xff\x00 definitely not protobuf \xff\xff",
        "wrong_message_type": encode_event(
            event_id=str(uuid.uuid4()), event_type="order_placed", occurred_at=OCCURRED, payload=card
        ),
        "missing_required_field": order_placed(order_id=""),
        "invalid_value": order_placed(quantity=-3),
        "unknown_event_type": encode_event(
            event_id=str(uuid.uuid4()),
            event_type="card_traded",
            occurred_at=OCCURRED,
            payload=orders_pb2.OrderStatusChanged(order_id="x", status=orders_pb2.ORDER_STATUS_PAID),
        ),
    }


def read_lines(store: BronzeStore, prefix: str) -> list[dict[str, Any]]:
    """Every bronze line under a prefix (all objects)."""
    lines: list[dict[str, Any]] = []
    for key in store.list(prefix):
        data = gzip.decompress(store.get(key))
        assert data.endswith(b"\n")
        lines.extend(orjson.loads(line) for line in data.splitlines())
    return lines


def live_meta(bodies: Iterable[bytes]) -> list[tuple[bytes, dict[str, Any]]]:
    return [(body, {"redelivered": False, "routing_key": "orders.order_placed"}) for body in bodies]


# --------------------------------------------------------------------------- tests


def test_event_line_is_the_documented_one() -> None:
    event_id = str(uuid.uuid4())
    body = order_placed(event_id)
    prepared = build_objects(
        [(body, {"redelivered": True, "routing_key": "orders.order_placed"})],
        source="live",
        ingested_at=INGESTED,
        name="live-x",
    )
    key = "raw/events/source=live/event_type=order_placed/dt=2026-03-01/hour=12/live-x.ndjson.gz"
    assert list(prepared.objects) == [key]
    line = orjson.loads(gzip.decompress(prepared.objects[key]))
    assert line == {
        "event_id": event_id,
        "event_type": "order_placed",
        "schema_version": 1,
        "occurred_at": "2026-03-01T12:00:00.250000Z",
        "producer": "orders-service",
        "payload": {
            "order_id": "ORD-1",
            "customer_id": "CUST-7",
            "channel": "web",
            "currency_code": "USD",
            "lines": [{"line_number": 1, "sku": "SKU-00042", "quantity": 2, "unit_price": "19.99"}],
        },
        "raw_b64": base64.b64encode(body).decode(),
        "ingest": {
            "source": "live",
            "ingested_at": "2026-03-01T13:05:07.123456Z",
            "redelivered": True,
            "routing_key": "orders.order_placed",
        },
    }
    counts = prepared.counts
    assert (counts.messages, counts.events, counts.quarantined_total, counts.objects) == (1, 1, 0, 1)
    assert counts.bytes == len(prepared.objects[key])


@pytest.mark.parametrize("reason", sorted(poison_messages()))
def test_quarantine_line_has_typed_reason_and_ingest_hour_key(reason: str) -> None:
    body = poison_messages()[reason]
    prepared = build_objects(
        [(body, {"journal_seq": 7, "window_id": "all"})], source="backfill", ingested_at=INGESTED, name="n"
    )
    key = f"raw/quarantine/source=backfill/reason={reason}/dt=2026-03-01/hour=13/n.ndjson.gz"
    assert list(prepared.objects) == [key]
    line = orjson.loads(gzip.decompress(prepared.objects[key]))
    assert set(line) == {"reason", "detail", "event_id", "event_type", "raw_b64", "ingest"}
    assert line["reason"] == reason
    assert line["detail"]
    assert base64.b64decode(line["raw_b64"]) == body
    assert line["ingest"] == {
        "source": "backfill",
        "ingested_at": "2026-03-01T13:05:07.123456Z",
        "journal_seq": 7,
        "window_id": "all",
    }
    assert prepared.counts.quarantined == {reason: 1}
    assert prepared.counts.events == 0


def test_groups_by_type_and_occurred_hour_and_keeps_order() -> None:
    late = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    bodies = [order_placed(), batch_started(), order_placed(occurred_at=late), order_placed(), b"junk"]
    prepared = build_objects(live_meta(bodies), source="live", ingested_at=INGESTED, name="b1")
    assert sorted(prepared.objects) == [
        "raw/events/source=live/event_type=batch_started/dt=2026-03-01/hour=12/b1.ndjson.gz",
        "raw/events/source=live/event_type=order_placed/dt=2026-02-28/hour=23/b1.ndjson.gz",
        "raw/events/source=live/event_type=order_placed/dt=2026-03-01/hour=12/b1.ndjson.gz",
        "raw/quarantine/source=live/reason=undecodable/dt=2026-03-01/hour=13/b1.ndjson.gz",
    ]
    noon = gzip.decompress(
        prepared.objects["raw/events/source=live/event_type=order_placed/dt=2026-03-01/hour=12/b1.ndjson.gz"]
    )
    raws = [orjson.loads(line)["raw_b64"] for line in noon.splitlines()]
    assert raws == [base64.b64encode(bodies[0]).decode(), base64.b64encode(bodies[3]).decode()]
    assert (prepared.counts.messages, prepared.counts.events, prepared.counts.objects) == (5, 4, 4)


def test_build_is_deterministic_for_a_fixed_name_and_time() -> None:
    bodies = list(valid_events(20).values()) + list(poison_messages().values())
    first = build_objects(
        live_meta(bodies), source="backfill", ingested_at=INGESTED, name="backfill-all-000001"
    )
    again = build_objects(
        live_meta(bodies), source="backfill", ingested_at=INGESTED, name="backfill-all-000001"
    )
    assert first.objects == again.objects


def test_money_stays_an_exact_decimal_string() -> None:
    payload = orders_pb2.OrderPlaced(
        order_id="o",
        customer_id="c",
        channel=orders_pb2.SALES_CHANNEL_RETAIL,
        currency_code="USD",
        lines=[
            orders_pb2.OrderLine(
                line_number=1,
                sku="s",
                quantity=1,
                unit_price=Money(currency_code="USD", units=0, nanos=100_000_000),
            )
        ],
    )
    body = encode_event(
        event_id=str(uuid.uuid4()), event_type="order_placed", occurred_at=OCCURRED, payload=payload
    )
    prepared = build_objects(live_meta([body]), source="live", ingested_at=INGESTED, name="m")
    (data,) = prepared.objects.values()
    assert b'"unit_price":"0.1"' in gzip.decompress(data)


def test_land_writes_through_the_store_and_names_batches_uniquely(bronze_settings: BronzeSettings) -> None:
    store = open_store(bronze_settings)
    names = live_names("host-abc")
    events = valid_events(6)
    first = land(
        store, live_meta(list(events.values())[:3]), source="live", name_factory=names, ingested_at=INGESTED
    )
    second = land(
        store, live_meta(list(events.values())[3:]), source="live", name_factory=names, ingested_at=INGESTED
    )
    assert first.events == second.events == 3
    keys = list(store.list("raw/events/"))
    assert len(keys) == first.objects + second.objects == 4
    assert {k.rsplit("/", 1)[1] for k in keys} == {
        "live-20260301T130507Z-host-abc-000001.ndjson.gz",
        "live-20260301T130507Z-host-abc-000002.ndjson.gz",
    }
    assert sorted(line["event_id"] for line in read_lines(store, "raw/events/")) == sorted(events)


def test_land_raises_when_the_store_fails(tmp_path: Any) -> None:
    class Broken(LocalStore):
        def put(self, key: str, data: bytes) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        land(Broken(tmp_path), live_meta([order_placed()]), source="live", name_factory=live_names("x"))


def _lines(prepared_objects: dict[str, bytes]) -> dict[str, list[dict[str, Any]]]:
    return {
        key: [orjson.loads(line) for line in gzip.decompress(data).splitlines()]
        for key, data in prepared_objects.items()
    }


def test_a_message_whose_line_cannot_be_serialized_is_quarantined_alone() -> None:
    """Metadata JSON cannot hold (bytes, an object) fails only that message: it lands in quarantine as
    `unserializable` with its original bytes; the other messages of the batch land as events."""
    good = valid_events(4)
    bad_body = order_placed()
    messages: list[tuple[bytes, dict[str, Any]]] = [
        (body, {"redelivered": False, "routing_key": "order.order_placed"}) for body in good.values()
    ]
    messages.insert(2, (bad_body, {"redelivered": False, "routing_key": b"order.\xff", "x": object()}))

    prepared = build_objects(messages, source="live", ingested_at=INGESTED, name="n")

    assert prepared.counts.events == 4 and prepared.counts.quarantined == {"unserializable": 1}
    lines = _lines(prepared.objects)
    quarantined = [line for key, group in lines.items() if "/quarantine/" in key for line in group]
    assert len(quarantined) == 1
    (line,) = quarantined
    assert line["reason"] == "unserializable" and "TypeError" in line["detail"]
    assert base64.b64decode(line["raw_b64"]) == bad_body
    assert line["event_type"] == "order_placed" and line["event_id"]
    assert line["ingest"]["routing_key"] == {"b64": base64.b64encode(b"order.\xff").decode()}
    events = [line["event_id"] for key, group in lines.items() if "/events/" in key for line in group]
    assert sorted(events) == sorted(good)


def test_a_decoder_crash_is_quarantined_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    real = landing.decode

    def decode(body: bytes) -> Any:
        if body == b"boom":
            raise RecursionError("maximum recursion depth exceeded")
        return real(body)

    monkeypatch.setattr(landing, "decode", decode)
    good = valid_events(2)
    prepared = build_objects(
        live_meta([b"boom", *good.values()]), source="live", ingested_at=INGESTED, name="n"
    )
    assert prepared.counts.events == 2 and prepared.counts.quarantined == {"undecodable": 1}


def test_a_caller_marked_message_is_quarantined_with_the_given_reason() -> None:
    body = order_placed()
    meta = {"queue": "q", QUARANTINE_META: ("dead_lettered", "x-death: rejected")}
    prepared = build_objects([(body, meta)], source="live", ingested_at=INGESTED, name="n")
    assert prepared.counts.quarantined == {"dead_lettered": 1} and prepared.counts.events == 0
    ((key, (line,)),) = _lines(prepared.objects).items()
    assert "/reason=dead_lettered/" in key
    assert line["detail"] == "x-death: rejected" and line["event_type"] == "order_placed"
    assert QUARANTINE_META not in line["ingest"] and line["ingest"]["queue"] == "q"
