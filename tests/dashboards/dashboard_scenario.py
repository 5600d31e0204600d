"""RAW data for the dashboard tests: three weeks of orders in two currencies, refunds and cancellations with
reasons, batches in three facilities (some still running), backfill windows with their journal counts,
quarantine over three load runs and a dead-lettered event. Written through tests/dbt's RawWriter (real encoded
events, the loader's DDL), so `dbt build` makes the marts the dashboards read."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from raw_fixture import (
    CHANNELS,
    SPORTS,
    RawWriter,
    card_created,
    card_updated,
    money,
    status_changed,
)
from sportscards.catalog.v1 import catalog_pb2
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 21
CARDS = [
    # sku, player, team, sport, parallel, rookie, list price
    ("BSB-TROUT-01", "Mike Trout", "Angels", "baseball", "base", False, "12.50"),
    ("BSB-OHTANI-01", "Shohei Ohtani", "Dodgers", "baseball", "refractor", False, "45.00"),
    ("BSB-SKENES-01", "Paul Skenes", "Pirates", "baseball", "base", True, "9.99"),
    ("BSB-JUDGE-01", "Aaron Judge", "Yankees", "baseball", "gold", False, "120.00"),
    ("BSK-LEBRON-01", "LeBron James", "Lakers", "basketball", "base", False, "15.00"),
    ("BSK-WEMBY-01", "Victor Wembanyama", "Spurs", "basketball", "refractor", True, "60.00"),
    ("BSK-CURRY-01", "Stephen Curry", "Warriors", "basketball", "base", False, "18.25"),
    ("BSK-CLARK-01", "Caitlin Clark", "Fever", "basketball", "gold", True, "0.123456789"),
]
FACILITIES = ("plant-dallas", "plant-memphis", "plant-reno")
CANCEL_REASONS = ("customer request", "payment failed", "out of stock")
REFUND_REASONS = ("damaged in transit", "not as described")


def _card(sku: str, player: str, team: str, sport: str, parallel: str, rookie: bool, price: str) -> object:
    return catalog_pb2.Card(
        sku=sku,
        player_name=player,
        team=team,
        sport=SPORTS[sport],
        set_name="Topps Chrome",
        set_year=2025,
        parallel=parallel,
        is_rookie=rookie,
        list_price=money(price),
    )


def _order(
    order_id: str, customer: str, channel: str, currency: str, lines: list[tuple[str, int, str]]
) -> object:
    return orders_pb2.OrderPlaced(
        order_id=order_id,
        customer_id=customer,
        channel=CHANNELS[channel],
        currency_code=currency,
        lines=[
            orders_pb2.OrderLine(line_number=i + 1, sku=sku, quantity=qty, unit_price=money(price, currency))
            for i, (sku, qty, price) in enumerate(lines)
        ],
    )


def _batch_completed(batch_id: str, sku: str, facility: str, planned: int, produced: int, bad: int) -> object:
    return manufacturing_pb2.BatchCompleted(
        batch_id=batch_id,
        sku=sku,
        facility=facility,
        planned_units=planned,
        produced_units=produced,
        defective_units=bad,
    )


def load(raw: RawWriter, seed: int = 11) -> None:
    """Three load runs a day apart (the last a few minutes ago), so freshness and the volume test pass."""
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(minutes=5)
    runs: list[list[tuple[str, object, datetime, dict[str, object]]]] = [[], [], []]
    journal: dict[str, int] = {}

    def add(run: int, event_type: str, message: object, at: datetime, **kw: object) -> None:
        runs[run].append((event_type, message, at, kw))
        if kw.get("source") == "backfill":
            window = str(kw["window_id"])
            journal[window] = journal.get(window, 0) + 1

    for c in CARDS:
        add(
            0,
            "card_created",
            card_created(_card(*c)),
            START - timedelta(days=10),
            source="backfill",
            window_id="catalog",
        )
    # A trade: Ohtani's card moves team mid-period (a second SCD2 version).
    moved = ("BSB-OHTANI-01", "Shohei Ohtani", "Dodgers West", "baseball", "refractor", False, "45.00")
    add(1, "card_updated", card_updated(_card(*moved)), START + timedelta(days=12))

    weights_early = [30, 20, 12, 4, 18, 10, 8, 6]
    weights_late = [10, 35, 25, 4, 8, 18, 8, 6]
    customers = [f"CUST-{n:03d}" for n in range(1, 61)]
    order_no = 0
    for day in range(DAYS):
        run = 0 if day < 7 else 1 if day < 14 else 2
        weights = weights_late if day >= 14 else weights_early
        backfill = day < 14
        window = f"2026030{1 + day // 7}T000000Z-week{1 + day // 7}"
        for _ in range(rng.randint(8, 14)):
            order_no += 1
            order_id = f"ORD-{order_no:05d}"
            at = START + timedelta(days=day, minutes=rng.randint(0, 1439))
            currency = "EUR" if rng.random() < 0.25 else "USD"
            skus = rng.sample([c[0] for c in CARDS], k=rng.choice((1, 1, 2, 3)), counts=weights)
            lines = []
            for sku in dict.fromkeys(skus):
                base = next(c[6] for c in CARDS if c[0] == sku)
                lines.append(
                    (sku, rng.randint(1, 4), base if rng.random() < 0.7 else f"{rng.uniform(1, 99):.2f}")
                )
            kw: dict[str, object] = {"source": "backfill", "window_id": window} if backfill else {}
            channel = rng.choice(list(CHANNELS))
            add(
                run,
                "order_placed",
                _order(order_id, rng.choice(customers), channel, currency, lines),
                at,
                **kw,
            )
            roll = rng.random()
            if roll < 0.08:
                reason = rng.choice(CANCEL_REASONS)
                add(
                    run,
                    "order_status_changed",
                    status_changed(order_id, "cancelled", reason),
                    at + timedelta(hours=2),
                    **kw,
                )
                continue
            if roll >= 0.95:
                continue  # never paid: placed, units ordered but not net units or revenue
            add(
                run, "order_status_changed", status_changed(order_id, "paid"), at + timedelta(minutes=3), **kw
            )
            if roll < 0.14:
                reason = rng.choice(REFUND_REASONS)
                add(
                    run,
                    "order_status_changed",
                    status_changed(order_id, "refunded", reason),
                    at + timedelta(days=1),
                    **kw,
                )
            elif roll < 0.6:
                add(
                    run,
                    "order_status_changed",
                    status_changed(order_id, "shipped"),
                    at + timedelta(hours=20),
                    **kw,
                )

    for n in range(45):
        facility = FACILITIES[n % 3]
        sku = CARDS[n % len(CARDS)][0]
        started = START + timedelta(days=n * DAYS / 45, hours=rng.randint(6, 10))
        run = 0 if started < START + timedelta(days=7) else 1 if started < START + timedelta(days=14) else 2
        planned = rng.choice((500, 1000, 2000))
        started_msg = manufacturing_pb2.BatchStarted(
            batch_id=f"B{n:03d}", sku=sku, facility=facility, planned_units=planned
        )
        add(run, "batch_started", started_msg, started)
        if n >= 40:
            continue  # still running
        produced = planned - rng.randint(0, planned // 10)
        bad = rng.randint(0, produced // (15 if facility == "plant-reno" else 60))
        done = started + timedelta(minutes=rng.randint(45, 900))
        add(
            run, "batch_completed", _batch_completed(f"B{n:03d}", sku, facility, planned, produced, bad), done
        )

    quarantine = [
        (0, "undecodable", None, "live"),
        (0, "invalid_value", "order_placed", "backfill"),
        (1, "missing_required_field", "order_placed", "live"),
        (1, "invalid_value", "order_placed", "backfill"),
        (1, "unknown_event_type", None, "live"),
        (2, "undecodable", None, "live"),
        (2, "dead_lettered", "order_placed", "live"),
    ]
    for run_no, events in enumerate(runs):
        raw.loaded_at = now - timedelta(days=2 - run_no)
        for event_type, message, at, kw in events:
            raw.event(event_type, message, at, **kw)  # type: ignore[arg-type]
        for q_run, reason, event_type, source in quarantine:
            if q_run != run_no:
                continue
            window = "20260301T000000Z-week1" if q_run == 0 else "20260302T000000Z-week2"
            raw.quarantine(reason, event_type, source=source, window_id=window)
            if source == "backfill":
                journal[window] = journal.get(window, 0) + 1
        raw.flush()
    raw.loaded_at = now
    for window, rows in journal.items():
        raw.journal_count(window, None, rows)
    raw.flush()
