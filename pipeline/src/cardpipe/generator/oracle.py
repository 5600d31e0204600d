"""The expected gold numbers, computed in plain Python from the generated message bodies (no SQL).

The dbt marts implement the same rules (documented in dbt/models/marts/_orders.yml and _cards_ops.yml,
R-numbers below); end-to-end tests compare the two. This module never reads the SQL: each rule is stated
here and coded from the statement. `generate(..., edge_cases=True)` produces inputs that hit every one of
them; tests/dbt/test_oracle_all_cases.py compares the marts with this oracle on such a stream after
incremental runs (late loads included) and after a full refresh. Rules:

* Input: every body the producers sent (journal rows and/or published messages). A body counts only if
  `cardpipe.contracts.codec.decode` accepts it: quarantined (malformed) events never count.
* Duplicates: events are deduplicated by event_id; a duplicate counts once. Arrival and load order never
  matter (nor when a file was loaded: a load committed late with an old timestamp counts like any other).
* Currencies (R1): line gross revenue = quantity * unit_price, exact Decimal (no rounding anywhere), in the
  order's currency; sums are kept per currency (`by_currency`); `totals` is only defined while every
  order has one currency (it raises otherwise: adding USD to JPY is the bug it guards against).
* Re-sent orders (R4): an order_id's placement is its latest order_placed by occurred_at (same instant: the
  greater event_id): a re-sent order replaces the earlier one, lines included (fewer lines drop the rest).
* Status (R5): the order's current status is the status of its latest order_status_changed by
  occurred_at; at the same instant refunded > cancelled > delivered > shipped > paid, then the greater
  event_id; an order with none is "placed". A late-arriving status change therefore wins if it occurred
  later. Status changes of unknown orders are ignored.
* Net revenue (R6) of a line = gross while the status is paid, shipped or delivered, else 0 (placed is not
  paid yet; cancelled and refunded are reversed).
* Card at order time (R9, R8): a line's catalog version is the SKU's version in effect when the order
  occurred (valid_from <= order occurred_at < valid_to), the first version reaching back to the beginning
  of time (an order placed before the SKU's first catalog event gets that first version); a SKU with no
  catalog event at all is an inferred member, player/team "unknown" (`version_event_id` None).
* Demand per SKU, per player and per team: units (sum of quantity), gross and net revenue of the lines.
* Totals: orders, lines, units, gross and net revenue; orders by current status.
* Batches (R10): the latest batch_started and batch_completed of a batch by occurred_at (then event_id;
  the marts break same-instant ties by load order, which bodies do not carry: the generator never emits
  such a tie) are its events: a re-sent completion with corrected counts replaces the earlier one.
  Planned units (batch_completed's, else batch_started's), produced and defective (from
  batch_completed; None while not completed), defect_rate = defective / produced (None if produced is
  0 or not completed), cycle time = completed.occurred_at - started.occurred_at (None if either is
  missing, or if the completion is dated before the start: `inconsistent_times`). Facility defect rate =
  sum(defective) / sum(produced) over completed batches (None if 0). Rates are exact Decimal quotients
  (28 significant digits): compare them rounded, e.g. to 6 places.
* Cards (R7): number of SKUs (with at least one card_created/card_updated) and SCD2 versions. A SKU's
  catalog events at one occurred_at are one instant: applied card_created before card_updated, then by
  event_id, the last of them is the state at that instant (and the version's `event_id`). Instants in
  occurred_at order; a new version starts when any attribute of the instant's state (player_name, team,
  sport, set_name, set_year, parallel, print_run, is_rookie, list_price) differs from the current
  version. valid_from = the instant (the marts backdate a SKU's first version to the beginning of time).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

from cardpipe.contracts.codec import DecodedEvent, decode
from cardpipe.generator.stream import Rates, generate

PLACED = "placed"
REVENUE_STATUSES = frozenset({"paid", "shipped", "delivered"})
# Same-instant status changes: the higher outranks the lower (refunds and cancellations beat fulfilment).
STATUS_PRECEDENCE = {"paid": 1, "shipped": 2, "delivered": 3, "cancelled": 4, "refunded": 5}
UNKNOWN = "unknown"
ZERO = Decimal(0)


@dataclass
class Sales:
    units: int = 0
    gross: Decimal = ZERO
    net: Decimal = ZERO

    def add(self, units: int, gross: Decimal, net: Decimal) -> None:
        self.units += units
        self.gross += gross
        self.net += net


@dataclass(frozen=True)
class Batch:
    batch_id: str
    sku: str
    facility: str
    planned: int
    produced: int | None
    defective: int | None
    defect_rate: Decimal | None
    cycle_time: timedelta | None
    inconsistent_times: bool = False  # the completion is dated before the start (cycle_time is None)


@dataclass(frozen=True)
class CardVersion:
    sku: str
    valid_from: datetime
    # player_name, team, sport, set_name, set_year, parallel, print_run, is_rookie, list_price, its currency
    attributes: tuple[Any, ...]
    player_name: str
    team: str
    event_id: str = ""  # the catalog event whose state this version is (the last of its instant)


@dataclass(frozen=True)
class Line:
    """One line of an order's current placement, as fct_orders must show it."""

    order_id: str
    line_number: int
    sku: str
    customer_id: str
    currency: str
    ordered_at: datetime
    quantity: int
    unit_price: Decimal
    gross: Decimal
    net: Decimal
    status: str
    # the dim_card version in effect at ordered_at: its event_id, None for an inferred member (R8)
    version_event_id: str | None


@dataclass
class Expected:
    """What the gold marts must show for a set of events."""

    events: int = 0  # distinct accepted events
    rejected: int = 0  # bodies the codec quarantines
    duplicates: int = 0  # accepted bodies whose event_id was seen before
    orders: int = 0
    lines: int = 0
    by_currency: dict[str, Sales] = field(default_factory=lambda: defaultdict(Sales))
    # (order_id, line_number) -> (quantity, gross, net, status): the order lines of current placements
    order_lines: dict[tuple[str, int], tuple[int, Decimal, Decimal, str]] = field(default_factory=dict)
    # (order_id, line_number) -> every field of the line
    line_items: dict[tuple[str, int], Line] = field(default_factory=dict)
    orders_by_status: Counter[str] = field(default_factory=Counter)
    order_status: dict[str, str] = field(default_factory=dict)
    # (sku | player | team, currency) -> sales: money is only ever summed within one currency
    by_sku: dict[tuple[str, str], Sales] = field(default_factory=lambda: defaultdict(Sales))
    by_player: dict[tuple[str, str], Sales] = field(default_factory=lambda: defaultdict(Sales))
    by_team: dict[tuple[str, str], Sales] = field(default_factory=lambda: defaultdict(Sales))
    batches: dict[str, Batch] = field(default_factory=dict)
    facility_defect_rate: dict[str, Decimal | None] = field(default_factory=dict)
    skus: int = 0
    card_versions: int = 0
    versions: dict[str, list[CardVersion]] = field(default_factory=dict)

    @property
    def totals(self) -> Sales:
        """All sales, for data in a single currency only (sums across currencies mean nothing)."""
        if len(self.by_currency) > 1:
            raise ValueError(f"totals across currencies {sorted(self.by_currency)}: use by_currency")
        return next(iter(self.by_currency.values()), Sales())


_CARD_ATTRIBUTES = (
    "player_name", "team", "sport", "set_name", "set_year", "parallel", "print_run", "is_rookie",
)  # fmt: skip


def _card_attributes(payload: dict[str, Any]) -> tuple[Any, ...]:
    price = payload["list_price"]
    return (*(payload[name] for name in _CARD_ATTRIBUTES), Decimal(price["amount"]), price["currency_code"])


def _rate(numerator: int, denominator: int | None) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def accepted_events(bodies: Iterable[bytes], expected: Expected) -> list[DecodedEvent]:
    """Decode every body, drop rejections and later copies of an event_id (counting both)."""
    seen: set[str] = set()
    events: list[DecodedEvent] = []
    for body in bodies:
        result = decode(body)
        if not isinstance(result, DecodedEvent):
            expected.rejected += 1
        elif result.event_id in seen:
            expected.duplicates += 1
        else:
            seen.add(result.event_id)
            events.append(result)
    expected.events = len(events)
    return events


# R7: at one instant of a SKU, card_created is applied before card_updated (then event_id): the last wins.
_CATALOG_TIE_ORDER = {"card_created": 0, "card_updated": 1}


def _versions(events: list[DecodedEvent]) -> dict[str, list[CardVersion]]:
    last_of_instant: dict[tuple[str, datetime], DecodedEvent] = {}
    for event in events:
        if event.event_type not in _CATALOG_TIE_ORDER:
            continue
        instant = (event.payload["sku"], event.occurred_at)
        current = last_of_instant.get(instant)
        if current is None or (_CATALOG_TIE_ORDER[event.event_type], event.event_id) > (
            _CATALOG_TIE_ORDER[current.event_type],
            current.event_id,
        ):
            last_of_instant[instant] = event
    versions: dict[str, list[CardVersion]] = defaultdict(list)
    for (sku, at), event in sorted(last_of_instant.items(), key=lambda item: item[0]):
        attributes = _card_attributes(event.payload)
        history = versions[sku]
        if not history or history[-1].attributes != attributes:
            history.append(
                CardVersion(
                    sku, at, attributes, event.payload["player_name"], event.payload["team"], event.event_id
                )
            )
    return dict(versions)


def _version_at(history: list[CardVersion] | None, at: datetime) -> CardVersion | None:
    if not history:
        return None
    index = bisect_right([v.valid_from for v in history], at)
    return history[index - 1] if index else history[0]  # the first version reaches back in time


def _statuses(events: list[DecodedEvent]) -> dict[str, str]:
    latest: dict[str, tuple[datetime, int, str, str]] = {}
    for event in events:
        if event.event_type != "order_status_changed":
            continue
        order_id = event.payload["order_id"]
        status = event.payload["status"]
        key = (event.occurred_at, STATUS_PRECEDENCE[status], event.event_id, status)
        if order_id not in latest or key > latest[order_id]:
            latest[order_id] = key
    return {order_id: value[3] for order_id, value in latest.items()}


def _latest(events: list[DecodedEvent], event_type: str, key: str) -> dict[str, DecodedEvent]:
    """The latest event of a type per business key, by occurred_at then event_id."""
    latest: dict[str, DecodedEvent] = {}
    for event in events:
        if event.event_type == event_type:
            current = latest.get(event.payload[key])
            if current is None or (event.occurred_at, event.event_id) > (
                current.occurred_at,
                current.event_id,
            ):
                latest[event.payload[key]] = event
    return latest


def _batches(events: list[DecodedEvent], expected: Expected) -> None:
    started = _latest(events, "batch_started", "batch_id")
    completed = _latest(events, "batch_completed", "batch_id")
    produced_by: dict[str, int] = defaultdict(int)
    defective_by: dict[str, int] = defaultdict(int)
    for batch_id in started.keys() | completed.keys():
        start, done = started.get(batch_id), completed.get(batch_id)
        source = (done or start).payload  # type: ignore[union-attr]
        produced = done.payload["produced_units"] if done else None
        defective = done.payload["defective_units"] if done else None
        if done:
            produced_by[source["facility"]] += produced or 0
            defective_by[source["facility"]] += defective or 0
        cycle_time = done.occurred_at - start.occurred_at if done and start else None
        inconsistent = cycle_time is not None and cycle_time < timedelta(0)
        expected.batches[batch_id] = Batch(
            batch_id=batch_id,
            sku=source["sku"],
            facility=source["facility"],
            planned=source["planned_units"],
            produced=produced,
            defective=defective,
            defect_rate=_rate(defective, produced) if done and defective is not None else None,
            cycle_time=None if inconsistent else cycle_time,
            inconsistent_times=inconsistent,
        )
    expected.facility_defect_rate = {f: _rate(defective_by[f], produced_by[f]) for f in produced_by}


def compute(bodies: Iterable[bytes]) -> Expected:
    """The expected gold numbers for every message body sent (in any order, duplicates included)."""
    expected = Expected()
    events = accepted_events(bodies, expected)
    expected.versions = _versions(events)
    expected.skus = len(expected.versions)
    expected.card_versions = sum(len(v) for v in expected.versions.values())
    statuses = _statuses(events)
    for event in _latest(events, "order_placed", "order_id").values():
        order_id = event.payload["order_id"]
        status = statuses.get(order_id, PLACED)
        expected.order_status[order_id] = status
        expected.orders += 1
        expected.orders_by_status[status] += 1
        currency = event.payload["currency_code"]
        for line in event.payload["lines"]:
            quantity = line["quantity"]
            gross = quantity * Decimal(line["unit_price"])
            net = gross if status in REVENUE_STATUSES else ZERO
            version = _version_at(expected.versions.get(line["sku"]), event.occurred_at)
            expected.lines += 1
            expected.by_currency[currency].add(quantity, gross, net)
            line_number = int(line["line_number"])
            expected.order_lines[order_id, line_number] = (quantity, gross, net, status)
            expected.line_items[order_id, line_number] = Line(
                order_id=order_id,
                line_number=line_number,
                sku=line["sku"],
                customer_id=event.payload["customer_id"],
                currency=currency,
                ordered_at=event.occurred_at,
                quantity=quantity,
                unit_price=Decimal(line["unit_price"]),
                gross=gross,
                net=net,
                status=status,
                version_event_id=version.event_id if version else None,
            )
            expected.by_sku[line["sku"], currency].add(quantity, gross, net)
            player, team = (version.player_name, version.team) if version else (UNKNOWN, UNKNOWN)
            expected.by_player[player, currency].add(quantity, gross, net)
            expected.by_team[team, currency].add(quantity, gross, net)
    _batches(events, expected)
    return expected


def expected_for_run(
    *, seed: int, history_events: int, live_events: int, rates: Rates | None = None
) -> Expected:
    """The expected gold numbers of `seed-journal --events H` plus `publish --events L` with one seed."""
    history = generate("history", history_events, seed=seed, rates=rates)
    live = generate("live", live_events, seed=seed, rates=rates)
    return compute(event.body for event in chain(history, live))
