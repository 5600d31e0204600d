"""The oracle on a hand-made event list: numbers computed by hand, to the cent (and beyond)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cardpipe.contracts.codec import encode_event
from cardpipe.generator import Rates, generate, payloads
from cardpipe.generator.oracle import Sales, compute, expected_for_run
from cardpipe.generator.world import CardState
from google.protobuf.message import Message

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def body(event_type: str, when: datetime, payload: Message, event_id: str | None = None) -> bytes:
    return encode_event(
        event_id=event_id or str(uuid.uuid4()), event_type=event_type, occurred_at=when, payload=payload
    )


CARD_A = CardState("A", "Alex Smith", "Boston Celtics", "basketball", "Prizm", 2024, "Base", None, True,
                   Decimal("10.00"))  # fmt: skip
CARD_B = CardState("B", "Sam Lee", "Dallas Cowboys", "football", "Mosaic", 2023, "Gold /10", 10, False,
                   Decimal("99.99"))  # fmt: skip


def status(order_id: str, value: str, hours: float, event_id: str | None = None) -> bytes:
    return body("order_status_changed", at(hours), payloads.status_changed(order_id, value), event_id)


def scenario() -> list[bytes]:
    dup_id = str(uuid.uuid4())
    traded = replace(CARD_A, team="Miami Heat")
    same_again = traded  # an update that changes nothing: no new SCD2 version
    o1 = body("order_placed", at(2), payloads.order_placed(
        "O1", "C1", "web", [("A", 3, Decimal("0.1")), ("B", 1, Decimal("99.99"))]), dup_id)  # fmt: skip
    return [
        body("card_created", at(0), payloads.card_created(CARD_A)),
        body("card_created", at(0), payloads.card_created(CARD_B)),
        # O1: 3 x 0.1 + 1 x 99.99 = 100.29, delivered (the shipped change arrives late, after delivered)
        o1,
        o1,  # duplicate: same event_id and bytes
        status("O1", "paid", 3),
        status("O1", "delivered", 10),
        status("O1", "shipped", 5),
        # the card is traded to Miami at hour 20: orders after that count for Miami
        body("card_updated", at(20), payloads.card_updated(traded)),
        body("card_updated", at(21), payloads.card_updated(same_again)),
        # O2: 2 x 10.005 = 20.01 on A (Miami), cancelled before shipping
        body(
            "order_placed",
            at(22),
            payloads.order_placed("O2", "C2", "mobile_app", [("A", 2, Decimal("10.005"))]),
        ),
        status("O2", "paid", 23),
        status("O2", "cancelled", 24),
        # O3: 5 x 0.2 = 1.0 on B, refunded after delivery
        body("order_placed", at(25), payloads.order_placed("O3", "C1", "retail", [("B", 5, Decimal("0.2"))])),
        status("O3", "paid", 26),
        status("O3", "shipped", 27),
        status("O3", "delivered", 28),
        status("O3", "refunded", 40),
        # O4: no status change yet -> placed; 1 x 0.000000001
        body(
            "order_placed",
            at(30),
            payloads.order_placed("O4", "C3", "web", [("A", 1, Decimal("0.000000001"))]),
        ),
        # quarantined: negative quantity never counts
        body("order_placed", at(31), payloads.order_placed("O5", "C3", "web", [("A", -4, Decimal("1"))])),
        b"\x0fgarbage",
        # batches: one complete, one with nothing produced, one still running
        body("batch_started", at(1), payloads.batch_started("BA1", "A", "dallas-tx", 1000)),
        body("batch_completed", at(7.5), payloads.batch_completed("BA1", "A", "dallas-tx", 1000, 980, 49)),
        body("batch_started", at(2), payloads.batch_started("BA2", "B", "dallas-tx", 100)),
        body("batch_completed", at(3), payloads.batch_completed("BA2", "B", "dallas-tx", 100, 0, 0)),
        body("batch_started", at(4), payloads.batch_started("BA3", "B", "memphis-tn", 200)),
    ]


def test_oracle_matches_hand_computed_numbers() -> None:
    expected = compute(scenario())
    assert expected.rejected == 2
    assert expected.duplicates == 1
    assert expected.orders == 4
    assert expected.lines == 5
    assert expected.order_status == {"O1": "delivered", "O2": "cancelled", "O3": "refunded", "O4": "placed"}
    assert dict(expected.orders_by_status) == {"delivered": 1, "cancelled": 1, "refunded": 1, "placed": 1}
    # gross: 0.3 + 99.99 + 20.01 + 1.0 + 0.000000001; net drops O2 (cancelled) and O3 (refunded)
    # net also drops O4: placed, not paid yet (R6)
    assert expected.totals == Sales(units=12, gross=Decimal("121.300000001"), net=Decimal("100.29"))
    assert expected.by_currency == {"USD": expected.totals}
    assert expected.by_sku["A", "USD"] == Sales(6, Decimal("20.310000001"), Decimal("0.3"))
    assert expected.by_sku["B", "USD"] == Sales(6, Decimal("100.99"), Decimal("99.99"))
    # point-in-time attribution: O1's A line is Boston's, O2 and O4 (after the trade) Miami's
    assert expected.by_team["Boston Celtics", "USD"] == Sales(3, Decimal("0.3"), Decimal("0.3"))
    assert expected.by_team["Miami Heat", "USD"] == Sales(3, Decimal("20.010000001"), Decimal("0"))
    assert expected.by_team["Dallas Cowboys", "USD"] == Sales(6, Decimal("100.99"), Decimal("99.99"))
    assert expected.by_player["Alex Smith", "USD"] == Sales(6, Decimal("20.310000001"), Decimal("0.3"))
    assert expected.skus == 2
    assert expected.card_versions == 3  # A: Boston, Miami (the no-op update adds none); B: one
    assert [v.team for v in expected.versions["A"]] == ["Boston Celtics", "Miami Heat"]


def test_oracle_rules_on_ties_resent_orders_late_cards_and_currencies() -> None:
    """Each rule decided by the data, not by arrival order or a random id (issue 10 R1 R4 R5 R7 R10)."""
    late_card = replace(CARD_B, sku="L", team="Late Team")
    bodies = [
        body("card_created", at(0), payloads.card_created(CARD_A)),
        # R5: delivered and refunded at one instant: refunded wins although its id sorts first
        body("order_placed", at(1), payloads.order_placed("T", "C1", "web", [("A", 1, Decimal("5"))])),
        status("T", "refunded", 2, event_id="00000000-0000-4000-8000-000000000001"),
        status("T", "delivered", 2, event_id="ffffffff-ffff-4fff-8fff-ffffffffffff"),
        # R4: re-sent with one line less, earlier event sent last: the latest placement counts
        body("order_placed", at(3), payloads.order_placed("R", "C2", "web", [("A", 1, Decimal("1"))])),
        body(
            "order_placed",
            at(1),
            payloads.order_placed("R", "C2", "web", [("A", 1, Decimal("1")), ("A", 9, Decimal("1"))]),
        ),
        status("R", "paid", 4),
        # R1: a JPY order is never added to USD
        body(
            "order_placed", at(5), payloads.order_placed("J", "C3", "web", [("A", 2, Decimal("1500"))], "JPY")
        ),
        status("J", "shipped", 6),
        # R7/R8: ordered before its SKU's first catalog event: the backdated first version's team
        body("order_placed", at(7), payloads.order_placed("E", "C4", "web", [("L", 1, Decimal("3"))])),
        status("E", "paid", 8),
        body("card_created", at(9), payloads.card_created(late_card)),
        # R10: the latest batch_completed (a correction) counts
        body("batch_started", at(0), payloads.batch_started("B1", "A", "dallas-tx", 10)),
        body("batch_completed", at(1), payloads.batch_completed("B1", "A", "dallas-tx", 10, 10, 5)),
        body("batch_completed", at(2), payloads.batch_completed("B1", "A", "dallas-tx", 10, 10, 1)),
    ]
    expected = compute(bodies)
    assert expected.order_status == {"T": "refunded", "R": "paid", "J": "shipped", "E": "paid"}
    assert expected.lines == 4  # T, R (one line), J, E
    assert expected.by_currency == {
        "USD": Sales(3, Decimal("9"), Decimal("4")),
        "JPY": Sales(2, Decimal("3000"), Decimal("3000")),
    }
    assert expected.by_team["Late Team", "USD"] == Sales(1, Decimal("3"), Decimal("3"))
    assert ("unknown", "USD") not in expected.by_team
    assert expected.batches["B1"].defective == 1
    with pytest.raises(ValueError, match="JPY"):
        _ = expected.totals


def test_oracle_batches() -> None:
    batches = compute(scenario()).batches
    assert batches["BA1"].defect_rate == Decimal("0.05")
    assert batches["BA1"].cycle_time == timedelta(hours=6.5)
    assert (batches["BA1"].planned, batches["BA1"].produced, batches["BA1"].defective) == (1000, 980, 49)
    assert batches["BA2"].defect_rate is None
    assert batches["BA3"].produced is None and batches["BA3"].cycle_time is None
    assert batches["BA3"].planned == 200
    rates = compute(scenario()).facility_defect_rate
    assert rates == {"dallas-tx": Decimal("0.05")}


def test_oracle_is_independent_of_arrival_order_and_duplicates() -> None:
    events = scenario()
    forward = compute(events)
    backward = compute(list(reversed(events)) + events[:5])
    assert backward.by_currency == forward.by_currency
    assert backward.order_status == forward.order_status
    assert backward.card_versions == forward.card_versions


def test_oracle_on_a_generated_run_is_self_consistent() -> None:
    """On real generator output: the breakdowns add up to the totals, and arrival order does not matter."""
    rates = Rates(duplicate=0.05, late=0.05, malformed=0.02)
    history = list(generate("history", 2500, seed=3, rates=rates, skus=60))
    live = list(generate("live", 800, seed=3, rates=rates, skus=60))
    bodies = [e.body for e in history + live]
    expected = compute(bodies)
    assert expected.rejected == sum(e.is_malformed for e in history + live)
    assert expected.duplicates == sum(e.kind == "duplicate" for e in history + live)
    assert set(expected.by_currency) == {"USD", "EUR", "GBP", "JPY"}  # customers pay in their currency
    for currency, total in expected.by_currency.items():
        for breakdown in (expected.by_sku, expected.by_player, expected.by_team):
            mine = [s for (_, c), s in breakdown.items() if c == currency]
            assert sum((s.gross for s in mine), Decimal(0)) == total.gross
            assert sum((s.net for s in mine), Decimal(0)) == total.net
            assert sum(s.units for s in mine) == total.units
        assert total.net < total.gross
    assert sum(expected.orders_by_status.values()) == expected.orders
    assert {"cancelled", "refunded", "delivered"} <= set(expected.orders_by_status)
    assert expected.card_versions > expected.skus == 60
    shuffled = compute(sorted(bodies + bodies[::7]))
    assert (shuffled.by_currency, shuffled.order_status, shuffled.card_versions) == (
        expected.by_currency, expected.order_status, expected.card_versions,
    )  # fmt: skip
    assert shuffled.batches == expected.batches


def test_expected_for_run_combines_both_streams() -> None:
    run = expected_for_run(seed=3, history_events=300, live_events=100)
    both = [e.body for e in generate("history", 300, seed=3)] + [
        e.body for e in generate("live", 100, seed=3)
    ]
    assert run == compute(both)


def test_oracle_catalog_ties_are_one_instant() -> None:
    """R7: events of one SKU at one occurred_at are one instant, card_created applied before card_updated,
    then by event_id; the last is the state (no zero-width version), and a tie that ends where the previous
    version was is no version at all."""
    low, high = "00000000-0000-4000-8000-00000000000a", "ffffffff-0000-4000-8000-00000000000b"
    low5, high5 = "00000000-0000-4000-8000-00000000005a", "ffffffff-0000-4000-8000-00000000005b"
    traded = replace(CARD_A, team="Miami Heat")
    repriced = replace(CARD_A, list_price=Decimal("12.00"))
    bodies = [
        # created and updated at hour 0: the update wins although its id sorts first
        body("card_created", at(0), payloads.card_created(CARD_A), high),
        body("card_updated", at(0), payloads.card_updated(traded), low),
        # two updates at hour 5: the greater event_id wins
        body("card_updated", at(5), payloads.card_updated(CARD_A), high5),
        body("card_updated", at(5), payloads.card_updated(repriced), low5),
        # two updates at hour 9, the winner equal to the current version: no new version
        body("card_updated", at(9), payloads.card_updated(traded), "00000000-0000-4000-8000-00000000009a"),
        body("card_updated", at(9), payloads.card_updated(CARD_A), "ffffffff-0000-4000-8000-00000000000c"),
        body("order_placed", at(1), payloads.order_placed("O1", "C1", "web", [("A", 1, Decimal("1"))])),
        body("order_placed", at(6), payloads.order_placed("O2", "C1", "web", [("A", 1, Decimal("1"))])),
    ]
    expected = compute(bodies)
    versions = expected.versions["A"]
    assert [(v.valid_from, v.team) for v in versions] == [(at(0), "Miami Heat"), (at(5), "Boston Celtics")]
    assert expected.by_team["Miami Heat", "USD"].units == 1
    assert [(v.valid_from, v.team, v.event_id) for v in versions] == [
        (at(0), "Miami Heat", low),
        (at(5), "Boston Celtics", high5),
    ]
    assert expected.card_versions == 2
    assert expected.line_items["O1", 1].version_event_id == low
    assert expected.line_items["O2", 1].version_event_id == high5


def test_oracle_lines_point_at_versions_and_inferred_members() -> None:
    """R8/R9: an order before the SKU's first catalog event gets that first version; a SKU never catalogued
    has no version (an inferred member, "unknown")."""
    first = "10000000-0000-4000-8000-000000000001"
    bodies = [
        body("order_placed", at(1), payloads.order_placed("O1", "C1", "web", [("A", 2, Decimal("1.5"))])),
        body("order_placed", at(2), payloads.order_placed("O2", "C1", "web", [("X", 1, Decimal("3"))])),
        body("card_created", at(3), payloads.card_created(CARD_A), first),
    ]
    lines = compute(bodies).line_items
    assert lines["O1", 1].version_event_id == first
    assert (lines["O1", 1].gross, lines["O1", 1].net, lines["O1", 1].status) == (
        Decimal(3),
        Decimal(0),
        "placed",
    )
    assert lines["O2", 1].version_event_id is None
    assert compute(bodies).by_team["unknown", "USD"].units == 1


def test_oracle_batch_completed_before_it_started() -> None:
    """R10: a completion dated before its start has no cycle time and is flagged, never negative."""
    bodies = [
        body("batch_started", at(5), payloads.batch_started("B1", "A", "dallas-tx", 10)),
        body("batch_completed", at(4), payloads.batch_completed("B1", "A", "dallas-tx", 10, 10, 1)),
    ]
    batch = compute(bodies).batches["B1"]
    assert (batch.cycle_time, batch.defective) == (None, 1)
    assert batch.inconsistent_times
