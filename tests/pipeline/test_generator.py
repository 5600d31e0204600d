"""The event generator: deterministic per seed, rates respected, every body what its `kind` says."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from cardpipe.contracts.codec import DecodedEvent, Rejection, decode, encode_event
from cardpipe.contracts.registry import EVENT_TYPES
from cardpipe.generator import ANCHOR, MALFORMED_REASONS, Rates, build_world, generate, payloads
from cardpipe.generator.stream import GeneratedEvent
from sportscards.envelope.v1.envelope_pb2 import EventEnvelope

N = 6000
SKUS = 120


@pytest.fixture(scope="module")
def history() -> list[GeneratedEvent]:
    return list(generate("history", N, seed=7, skus=SKUS))


@pytest.fixture(scope="module")
def live() -> list[GeneratedEvent]:
    return list(generate("live", N, seed=7, skus=SKUS))


def test_same_seed_same_bytes(history: list[GeneratedEvent]) -> None:
    again = list(generate("history", N, seed=7, skus=SKUS))
    assert [(e.body, e.kind, e.event_id) for e in again] == [(e.body, e.kind, e.event_id) for e in history]


def test_another_seed_other_events(history: list[GeneratedEvent]) -> None:
    other = list(generate("history", 200, seed=8, skus=SKUS))
    assert {e.body for e in other}.isdisjoint(e.body for e in history)


def test_exact_count_and_a_prefix_is_stable(history: list[GeneratedEvent]) -> None:
    assert len(history) == N
    assert len(list(generate("history", 0, seed=7))) == 0
    # the world does not depend on the count: a short run creates the same catalog (at other times)
    short = list(generate("history", 50, seed=7, skus=SKUS))

    def catalog(events: list[GeneratedEvent]) -> list[object]:
        return [getattr(decode(e.body), "payload", None) for e in events if e.event_type == "card_created"][
            :10
        ]

    assert catalog(short) == catalog(history)


def test_world_is_the_same_for_both_streams() -> None:
    assert build_world(7, skus=SKUS) == build_world(7, skus=SKUS)
    assert build_world(7, skus=SKUS) != build_world(8, skus=SKUS)


def test_rates_are_roughly_respected(history: list[GeneratedEvent]) -> None:
    kinds = Counter(e.kind.split(":")[0] for e in history)
    assert 0.01 * N <= kinds["duplicate"] <= 0.03 * N
    assert 0.004 * N <= kinds["late"] <= 0.02 * N
    assert 0.001 * N <= kinds["malformed"] <= 0.012 * N
    none = list(generate("history", 2000, seed=7, skus=SKUS, rates=Rates(0, 0, 0)))
    assert {e.kind for e in none} == {"valid"}
    heavy = Counter(e.kind.split(":")[0] for e in generate("live", 2000, seed=7, rates=Rates(0.2, 0.1, 0.1)))
    assert 200 <= heavy["duplicate"] <= 450  # a share of the valid, on-time events
    assert 100 <= heavy["malformed"] <= 300


def test_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="duplicate rate"):
        Rates(duplicate=0.9)
    with pytest.raises(ValueError, match="stream"):
        generate("future", 1)  # type: ignore[arg-type]


def test_every_body_is_what_its_kind_says(history: list[GeneratedEvent], live: list[GeneratedEvent]) -> None:
    for events in (history, live):
        first_seen: dict[str, bytes] = {}
        for event in events:
            result = decode(event.body)
            if event.is_malformed:
                assert isinstance(result, Rejection)
                assert result.reason is MALFORMED_REASONS[event.kind.split(":", 1)[1]]
                continue
            assert isinstance(result, DecodedEvent), result
            assert (result.event_id, result.event_type, result.occurred_at, result.producer) == (
                event.event_id, event.event_type, event.occurred_at, event.producer,
            )  # fmt: skip
            assert event.event_id is not None
            if event.kind == "duplicate":
                assert first_seen[event.event_id] == event.body
            else:
                assert event.event_id not in first_seen
                first_seen[event.event_id] = event.body


def test_every_malformed_kind_appears() -> None:
    events = generate("live", 3000, seed=1, rates=Rates(0, 0, 0.2))
    assert {e.kind for e in events if e.is_malformed} == {f"malformed:{k}" for k in MALFORMED_REASONS}


def test_late_events_arrive_after_events_that_occurred_later(history: list[GeneratedEvent]) -> None:
    position = {id(e): i for i, e in enumerate(history)}
    late = [e for e in history if e.kind == "late"]
    assert late
    for event in late:
        assert event.occurred_us is not None
        before = history[: position[id(event)]]
        assert any(o.occurred_us is not None and o.occurred_us > event.occurred_us for o in before)
    valid = [e.occurred_us for e in history if e.kind == "valid" and e.occurred_us is not None]
    assert valid == sorted(valid), "apart from late ones and copies, events arrive in occurred_at order"


def test_time_ranges(history: list[GeneratedEvent], live: list[GeneratedEvent]) -> None:
    history_times = [e.occurred_at for e in history if e.occurred_at is not None]
    live_times = [e.occurred_at for e in live if e.occurred_at is not None]
    assert ANCHOR - timedelta(days=30) <= min(history_times) <= max(history_times) < ANCHOR
    assert ANCHOR <= min(live_times) <= max(live_times) < ANCHOR + timedelta(days=1)


def test_catalog_first_then_updates_and_business_flows(
    history: list[GeneratedEvent], live: list[GeneratedEvent]
) -> None:
    types = [e.event_type for e in history if e.kind == "valid"]
    assert types[:SKUS] == ["card_created"] * SKUS
    counts = Counter(types)
    assert counts["card_created"] == SKUS
    for event_type in (
        "card_updated",
        "order_placed",
        "order_status_changed",
        "batch_started",
        "batch_completed",
    ):
        assert counts[event_type] > 0, event_type
    assert "card_created" not in {e.event_type for e in live}


def test_orders_lifecycles_and_batches_are_consistent(history: list[GeneratedEvent]) -> None:
    on_time_or_late = [e for e in history if e.kind in ("valid", "late")]
    decoded = sorted(
        (r for e in on_time_or_late if isinstance(r := decode(e.body), DecodedEvent)),
        key=lambda r: r.occurred_at,
    )
    statuses: dict[str, list[str]] = {}
    sku_units: Counter[str] = Counter()
    for event in decoded:
        if event.event_type == "order_placed":
            lines = event.payload["lines"]
            assert 1 <= len(lines) <= 4
            assert len({line["sku"] for line in lines}) == len(lines)
            sku_units.update({line["sku"]: line["quantity"] for line in lines})
            statuses[event.payload["order_id"]] = []
        elif event.event_type == "order_status_changed":
            statuses[event.payload["order_id"]].append(event.payload["status"])
        elif event.event_type == "batch_completed":
            assert 0 <= event.payload["defective_units"] <= event.payload["produced_units"]
    seen = Counter(tuple(s) for s in statuses.values())
    allowed = {
        (), ("paid",), ("paid", "shipped"), ("paid", "shipped", "delivered"),
        ("paid", "shipped", "delivered", "refunded"), ("cancelled",), ("paid", "cancelled"),
    }  # fmt: skip
    assert set(seen) <= allowed
    assert seen[("paid", "shipped", "delivered", "refunded")] > 0
    assert seen[("paid", "cancelled")] + seen[("cancelled",)] > 0
    # Zipf-like demand: the top 10% of SKUs sell far more than the bottom half
    ranked = [units for _, units in sku_units.most_common()]
    assert sum(ranked[: SKUS // 10]) > sum(ranked[SKUS // 2 :])


def test_fast_envelope_matches_encode_event(
    history: list[GeneratedEvent], live: list[GeneratedEvent]
) -> None:
    """The generator's envelope encoder is byte-for-byte codec.encode_event, for every valid event."""
    for event in history + live:
        if event.is_malformed:
            continue
        envelope = EventEnvelope.FromString(event.body)
        spec = EVENT_TYPES[envelope.event_type]
        payload = spec.message.FromString(envelope.payload.value)
        assert event.event_id is not None and event.occurred_at is not None
        expected = encode_event(
            event_id=event.event_id,
            event_type=spec.event_type,
            occurred_at=event.occurred_at,
            payload=payload,
        )
        assert event.body == expected
    card = build_world(7, skus=3).cards[0]
    # a whole second (nanos 0) and the epoch (seconds 0) are the proto3 default-value edge cases
    for when in (datetime(2026, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, 0, 0, 0, 5, tzinfo=UTC)):
        micros = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        fast = payloads.encode_body("e", "card_created", micros, payloads.card_created(card))
        slow = encode_event(
            event_id="e", event_type="card_created", occurred_at=when, payload=payloads.card_created(card)
        )
        assert fast == slow


def test_edge_cases_are_deterministic_and_leave_the_default_stream_alone() -> None:
    """edge_cases adds hard cases to the stream (tests/dbt/test_oracle_all_cases.py checks each one is there)
    and keeps its guarantees: exact count, same bytes per seed, every body what its kind says, time order."""
    edge = list(generate("history", 3000, seed=11, skus=60, edge_cases=True))
    assert len(edge) == 3000
    assert [e.body for e in generate("history", 3000, seed=11, skus=60, edge_cases=True)] == [
        e.body for e in edge
    ]
    assert [e.body for e in generate("history", 500, seed=11, skus=60, edge_cases=False)] == [
        e.body for e in generate("history", 500, seed=11, skus=60)
    ]
    assert [e.body for e in edge[:500]] != [e.body for e in generate("history", 500, seed=11, skus=60)]
    valid = [e.occurred_us for e in edge if e.kind == "valid" and e.occurred_us is not None]
    assert valid == sorted(valid)
    for event in edge:
        assert isinstance(decode(event.body), Rejection) == event.is_malformed
