"""The event streams: `history` (for the journal) and `live` (for RabbitMQ), deterministic per seed.

Time is compressed: follow-ups (payment, shipping, delivery, refunds, batch completion, late arrivals)
are scheduled a number of *event slots* later rather than real hours, so order lifecycles complete in a
stream of any size. Each slot advances the clock by about span / events, so `history` fills the 30 days
before ANCHOR and `live` the day after it.

`edge_cases=True` adds, deterministically per seed, the inputs that decide each mart rule (issue 10), so an
end-to-end comparison with the oracle exercises every one of them (off by default: it changes the stream,
and tests elsewhere pin the default stream's bytes):

* status ties: some orders get `delivered` and `refunded` at one instant, some `paid` and `shipped` (R5);
* catalog ties: some SKUs get a `card_updated` at the instant of their `card_created`, some updates a second
  `card_updated` (other attributes) at the same instant (R7);
* re-sent orders: an order_id placed again later (a few at the same instant) with one line fewer and other
  quantities and prices (R4);
* late cards (history): two of the most demanded SKUs get their `card_created` only after ~40% of the
  span, after orders for them (R8, backdated first version); one more is ordered but never catalogued;
* corrected batches: some batches get a second `batch_completed`, later, with corrected counts (R10). Never
  at the completion's instant: the marts break that tie by load order, which bodies do not carry.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from google.protobuf.message import Message

from cardpipe.generator import payloads
from cardpipe.generator.malformed import BUILDERS as MALFORMED_BUILDERS
from cardpipe.generator.world import FACILITIES, CardState, World, build_world, mutate_card

Stream = Literal["history", "live"]
ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
SPANS: dict[str, tuple[datetime, timedelta]] = {
    "history": (ANCHOR - timedelta(days=30), timedelta(days=30)),
    "live": (ANCHOR, timedelta(days=1)),
}
VALID, DUPLICATE, LATE, MALFORMED = "valid", "duplicate", "late", "malformed"
MALFORMED_KINDS = tuple(MALFORMED_BUILDERS)
CHANNELS = ("web", "mobile_app", "marketplace", "retail")
CHANNEL_WEIGHTS = (50, 30, 15, 5)
QUANTITIES = (1, 1, 1, 1, 2, 2, 3, 5, 10, 25)
DISCOUNT = Decimal("0.9")
CENT = Decimal("0.01")
# Customers pay in their own currency (ISO 4217): the generator's fixed conversion from the catalog's USD
# list price, rounded to the currency's minor unit. The marts never convert: they keep money per currency.
ORDER_CURRENCIES: tuple[tuple[str, int, Decimal, Decimal], ...] = (
    # (code, share in percent, units per USD, minor unit)
    ("USD", 70, Decimal(1), Decimal("0.000000001")),  # USD keeps the catalog's exact (sub-cent) prices
    ("EUR", 15, Decimal("0.92"), CENT),
    ("GBP", 10, Decimal("0.79"), CENT),
    ("JPY", 5, Decimal(150), Decimal(1)),
)


def customer_currency(customer_id: str) -> tuple[str, Decimal, Decimal]:
    """The customer's currency, fixed per customer and drawn from no random stream (a hash of the id), so
    adding currencies left every other generated value as it was."""
    bucket = zlib.crc32(customer_id.encode()) % 100
    for code, share, rate, minor in ORDER_CURRENCIES:
        if bucket < share:
            return code, rate, minor
        bucket -= share
    raise AssertionError("ORDER_CURRENCIES shares must add up to 100")


@dataclass(frozen=True, slots=True)
class Rates:
    """Anomaly rates: malformed per emitted slot, late per valid event, duplicate per on-time valid event."""

    duplicate: float = 0.02
    late: float = 0.01
    malformed: float = 0.005

    def __post_init__(self) -> None:
        for name in ("duplicate", "late", "malformed"):
            value = getattr(self, name)
            if not 0 <= value <= 0.5:
                raise ValueError(f"{name} rate must be between 0 and 0.5, got {value}")


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    """One message body as a producer would send it, plus what tests should expect of it."""

    event_id: str | None
    event_type: str | None
    # occurred_at as integer microseconds since the epoch (cheap to compute; see `occurred_at`)
    occurred_us: int | None
    producer: str | None
    body: bytes
    # "valid", "duplicate" (same id and bytes as an earlier one), "late" (valid, emitted after events that
    # occurred later) or "malformed:<kind>" (see generator.malformed.MALFORMED_REASONS)
    kind: str

    @property
    def occurred_at(self) -> datetime | None:
        return None if self.occurred_us is None else _EPOCH + timedelta(microseconds=self.occurred_us)

    @property
    def is_malformed(self) -> bool:
        return self.kind.startswith(MALFORMED)

    def with_kind(self, kind: str) -> GeneratedEvent:
        return GeneratedEvent(
            self.event_id, self.event_type, self.occurred_us, self.producer, self.body, kind
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _event_id(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from the stream's own generator, so ids are reproducible."""
    h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# edge_cases: shares of the hard cases (drawn from their own random stream, never from the main one)
EDGE_STATUS_TIE = 0.3  # of refunded orders: refunded at the instant of delivery
EDGE_PAID_SHIPPED_TIE = 0.05  # of shipped orders: shipped at the instant of payment
EDGE_CREATED_TIE = 0.15  # of created SKUs: a card_updated at the instant of card_created
EDGE_UPDATE_TIE = 0.3  # of card updates: a second card_updated at the same instant
EDGE_RESENT_ORDER = 0.08  # of orders with 2+ lines: re-sent with a line fewer
EDGE_RESENT_SAME_INSTANT = 0.2  # of re-sent orders: at the original's instant (the greater event_id wins)
EDGE_CORRECTED_BATCH = 0.2  # of batches: a later batch_completed with corrected counts
EDGE_LATE_CARD_AT = 0.4  # share of the span after which late SKUs get their first catalog event


def edge_skus(world: World) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """With edge_cases: (late SKUs, never-catalogued SKUs), chosen among the most demanded so they sell."""
    cum = world.demand_cum_weights
    weights = [b - a for a, b in zip((0.0, *cum), cum, strict=False)]
    ranked = [world.cards[i].sku for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i))]
    return tuple(ranked[1:3]), tuple(ranked[3:4])


class _StreamBuilder:
    def __init__(  # noqa: PLR0917 - internal
        self, world: World, stream: Stream, events: int, seed: int, rates: Rates, edge_cases: bool
    ) -> None:
        self.world = world
        self.stream = stream
        self.events = events
        self.rates = rates
        self.rng = random.Random(f"{stream}:{seed}")
        start, span = SPANS[stream]
        self.end = _micros(start + span) - 1000
        # 0.9: leave room for jitter so every occurred_at stays inside the span
        self.dt = max(1, _micros(start + span * 0.9 / max(events, 1)) - _micros(start))
        self.now = _micros(start)
        self.cards = {card.sku: card for card in world.cards}
        self.to_create = list(world.cards) if stream == "history" else []
        self.to_create.reverse()
        self.pending: list[tuple[int, int, str, Message]] = []  # (due, seq, event_type, payload)
        self.seq = 0
        self.prefix = f"{stream[0].upper()}{seed}"
        self.orders = 0
        self.batches = 0
        self.edge: random.Random | None = None
        self.no_catalog: set[str] = set()  # SKUs that must not get a catalog event (yet)
        if edge_cases:
            self._plan_edge_cases(seed, start, span)

    def _plan_edge_cases(self, seed: int, start: datetime, span: timedelta) -> None:
        self.edge = random.Random(f"{self.stream}:{seed}:edge")
        late, never = edge_skus(self.world)
        self.no_catalog = set(never)
        if self.stream != "history":
            return
        self.no_catalog |= set(late)
        self.to_create = [card for card in self.to_create if card.sku not in self.no_catalog]
        for sku in late:
            at = _micros(start + span * EDGE_LATE_CARD_AT)
            self._schedule(at, "card_created", payloads.card_created(self.cards[sku]))

    def _edge(self, share: float) -> bool:
        return self.edge is not None and self.edge.random() < share

    # ----------------------------------------------------------------- scheduling

    def _after(self, slots_low: int, slots_high: int) -> int:
        return self.now + self.dt * self.rng.randint(slots_low, slots_high)

    def _schedule(self, due: int, event_type: str, payload: Message) -> None:
        if due >= self.end:
            return  # beyond the span: left out (the order stays in its last state), never clamped
        self.seq += 1
        heapq.heappush(self.pending, (due, self.seq, event_type, payload))

    def _tick(self) -> None:
        self.now = min(self.now + int(self.dt * (0.5 + self.rng.random())), self.end)

    def _encode(self, event_type: str, at: int, payload: Message) -> GeneratedEvent:
        event_id = _event_id(self.rng)
        body = payloads.encode_body(event_id, event_type, at, payload)
        return GeneratedEvent(event_id, event_type, at, payloads.PRODUCERS[event_type], body, VALID)

    # ----------------------------------------------------------------- activities

    def next_valid(self) -> GeneratedEvent:
        """The next event by occurred_at: a due follow-up, or a new activity at the clock."""
        self._tick()
        if self.pending and self.pending[0][0] <= self.now:
            due, _, event_type, payload = heapq.heappop(self.pending)
            if event_type == "card_created":  # a late card: catalogued from now on
                self.no_catalog.discard(payload.card.sku)  # type: ignore[attr-defined]
            return self._encode(event_type, due, payload)
        if self.to_create:
            card = self.to_create.pop()
            if self._edge(EDGE_CREATED_TIE):
                self._same_instant_update(card)
            return self._encode("card_created", self.now, payloads.card_created(card))
        roll = self.rng.random()
        if roll < 0.80:
            return self._order()
        if roll < 0.95:
            return self._batch()
        return self._card_update()

    def _order(self) -> GeneratedEvent:
        rng = self.rng
        self.orders += 1
        order_id = f"ORD-{self.prefix}-{self.orders:08d}"
        picked = rng.choices(self.world.cards, cum_weights=self.world.demand_cum_weights, k=rng.randint(1, 4))
        lines: list[tuple[str, int, Decimal]] = []
        seen: set[str] = set()
        for card in picked:
            if card.sku in seen:
                continue
            seen.add(card.sku)
            price = self.cards[card.sku].list_price
            if rng.random() < 0.2:
                price = max(CENT, (price * DISCOUNT).quantize(CENT))
            lines.append((card.sku, rng.choice(QUANTITIES), price))
        channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
        customer = rng.choice(self.world.customers)
        currency, rate, minor = customer_currency(customer)
        priced = [(sku, qty, max(minor, (price * rate).quantize(minor))) for sku, qty, price in lines]
        self._plan_lifecycle(order_id)
        if len(priced) > 1 and self._edge(EDGE_RESENT_ORDER):
            self._resend_order(order_id, customer, channel, priced, (currency, minor))
        return self._encode(
            "order_placed", self.now, payloads.order_placed(order_id, customer, channel, priced, currency)
        )

    def _resend_order(
        self,
        order_id: str,
        customer: str,
        channel: str,
        lines: list[tuple[str, int, Decimal]],
        currency: tuple[str, Decimal],
    ) -> None:
        """The producer corrects an order: same order_id, a line fewer, other quantities and prices."""
        assert self.edge is not None
        code, minor = currency
        fewer = [
            (sku, qty % 7 + 1, max(minor, (price * Decimal("1.1")).quantize(minor)))
            for sku, qty, price in lines[:-1]
        ]
        same_instant = self.edge.random() < EDGE_RESENT_SAME_INSTANT
        due = self.now if same_instant else self.now + self.dt * self.edge.randint(5, 300)
        self._schedule(due, "order_placed", payloads.order_placed(order_id, customer, channel, fewer, code))

    def _plan_lifecycle(self, order_id: str) -> None:
        """paid -> shipped -> delivered; ~2% cancelled unpaid, ~5% cancelled paid, ~5% refunded."""
        fate = self.rng.random()
        if fate < 0.02:
            self._schedule(
                self._after(2, 40),
                "order_status_changed",
                payloads.status_changed(order_id, "cancelled", "customer request"),
            )
            return
        paid = self._after(1, 20)
        self._schedule(paid, "order_status_changed", payloads.status_changed(order_id, "paid"))
        if fate < 0.07:
            cancelled = paid + self.dt * self.rng.randint(1, 60)
            self._schedule(
                cancelled,
                "order_status_changed",
                payloads.status_changed(order_id, "cancelled", "out of stock"),
            )
            return
        shipped = paid + self.dt * self.rng.randint(20, 200)
        delivered = shipped + self.dt * self.rng.randint(50, 400)
        if self._edge(EDGE_PAID_SHIPPED_TIE):
            shipped = paid
        self._schedule(shipped, "order_status_changed", payloads.status_changed(order_id, "shipped"))
        self._schedule(delivered, "order_status_changed", payloads.status_changed(order_id, "delivered"))
        if fate < 0.12:
            refunded = delivered + self.dt * self.rng.randint(20, 600)
            if self._edge(EDGE_STATUS_TIE):
                refunded = delivered
            self._schedule(
                refunded,
                "order_status_changed",
                payloads.status_changed(order_id, "refunded", "damaged in transit"),
            )

    def _batch(self) -> GeneratedEvent:
        rng = self.rng
        self.batches += 1
        batch_id = f"BAT-{self.prefix}-{self.batches:07d}"
        sku = rng.choices(self.world.cards, cum_weights=self.world.demand_cum_weights)[0].sku
        facility = rng.choice(self.world.facilities)
        planned = rng.randint(5, 50) * 100
        produced = planned - rng.randint(0, planned // 30)
        defective = min(produced, int(produced * FACILITIES[facility] * (0.5 + rng.random())))
        done = self._after(30, 500)
        self._schedule(
            done,
            "batch_completed",
            payloads.batch_completed(batch_id, sku, facility, planned, produced, defective),
        )
        if self.edge is not None and self._edge(EDGE_CORRECTED_BATCH):
            # a recount: strictly later than the first completion (a tie would be decided by load order)
            recounted = produced - 1
            corrected = max(0, min(recounted, defective + self.edge.choice((-3, -1, 1, 2, 5))))
            self._schedule(
                done + self.dt * self.edge.randint(1, 200),
                "batch_completed",
                payloads.batch_completed(batch_id, sku, facility, planned, recounted, corrected),
            )
        return self._encode(
            "batch_started", self.now, payloads.batch_started(batch_id, sku, facility, planned)
        )

    def _card_update(self) -> GeneratedEvent:
        card: CardState = self.rng.choice(self.world.cards)
        if card.sku in self.no_catalog:
            return self._order()  # edge_cases: a late SKU's first catalog event is its card_created
        updated = mutate_card(self.rng, self.cards[card.sku])
        self.cards[card.sku] = updated
        if self._edge(EDGE_UPDATE_TIE):
            self._same_instant_update(updated)
        return self._encode("card_updated", self.now, payloads.card_updated(updated))

    def _same_instant_update(self, card: CardState) -> None:
        """Another card_updated of the SKU at this very instant, with other attributes (R7's tie)."""
        assert self.edge is not None
        other = mutate_card(self.edge, card)
        self.cards[card.sku] = other
        self._schedule(self.now, "card_updated", payloads.card_updated(other))

    def malformed(self) -> GeneratedEvent:
        kind = self.rng.choice(MALFORMED_KINDS)
        event_id = _event_id(self.rng)
        sku = self.rng.choice(self.world.cards).sku
        at = _EPOCH + timedelta(microseconds=self.now)
        (event_type, producer), body = MALFORMED_BUILDERS[kind](self.rng, event_id, at, sku)
        known_id = event_type is not None
        return GeneratedEvent(
            event_id if known_id else None,
            event_type,
            self.now if known_id else None,
            producer,
            body,
            f"{MALFORMED}:{kind}",
        )

    # ----------------------------------------------------------------- emission

    def run(self) -> Iterator[GeneratedEvent]:
        rng, rates = self.rng, self.rates
        delayed: list[tuple[int, int, GeneratedEvent]] = []  # (release at emitted count, seq, event)
        emitted = 0
        seq = 0
        while emitted < self.events:
            if delayed and (delayed[0][0] <= emitted or self.events - emitted <= len(delayed)):
                yield heapq.heappop(delayed)[2]
                emitted += 1
                continue
            if rng.random() < rates.malformed:
                yield self.malformed()
                emitted += 1
                continue
            event = self.next_valid()
            seq += 1
            if event.event_type != "card_created" and rng.random() < rates.late:
                heapq.heappush(delayed, (emitted + rng.randint(20, 300), seq, event.with_kind(LATE)))
                continue
            yield event
            emitted += 1
            if rng.random() < rates.duplicate:
                seq += 1
                heapq.heappush(delayed, (emitted + rng.randint(0, 50), seq, event.with_kind(DUPLICATE)))


def generate(
    stream: Stream,
    events: int,
    *,
    seed: int = 42,
    rates: Rates | None = None,
    skus: int = 1000,
    world: World | None = None,
    edge_cases: bool = False,
) -> Iterator[GeneratedEvent]:
    """Yield exactly `events` events of a stream (history starts with a card_created per SKU but the late
    and never-catalogued SKUs of `edge_cases`, which adds the other hard cases too: see the module doc)."""
    if stream not in SPANS:
        raise ValueError(f"stream must be 'history' or 'live', got {stream!r}")
    if events < 0:
        raise ValueError(f"events must be >= 0, got {events}")
    world = world if world is not None else build_world(seed, skus=skus)
    return _StreamBuilder(world, stream, events, seed, rates or Rates(), edge_cases).run()
