"""The fixture story and its hand-computed marts: duplicates, late and out-of-order status changes,
a cancellation, refunds, SCD2 changes, 9-decimal prices, a quarantined event and a backfill window."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from raw_fixture import (
    RawWriter,
    batch_completed,
    batch_started,
    card,
    card_created,
    card_updated,
    order_placed,
    status_changed,
    ts,
)

O4_EVENT_ID = "00000000-0000-4000-8000-000000000004"


def load_phase_one(raw: RawWriter) -> None:
    """First load run: catalog backfill, four orders, three batches."""
    a_v1 = card("A", "Mike Trout", "Angels", "12.50")
    raw.event("card_created", card_created(a_v1), ts("2026-03-01T00:00:00"), source="backfill")
    # Same attributes again: not a new SCD2 version.
    raw.event("card_updated", card_updated(a_v1), ts("2026-03-01T06:00:00"), source="backfill")
    a_v2 = card("A", "Mike Trout", "Yankees", "12.50")
    raw.event("card_updated", card_updated(a_v2), ts("2026-03-02T12:00:00"), source="backfill")
    b_v1 = card("B", "LeBron James", "Lakers", "0.123456789", sport="basketball", rookie=True)
    raw.event("card_created", card_created(b_v1), ts("2026-03-01T00:00:00"), source="backfill")
    raw.quarantine("invalid_value", "card_updated", source="backfill")
    raw.quarantine("undecodable", None, source="live")
    raw.journal_count("all", "card_created", 2)
    raw.journal_count("all", "card_updated", 3)

    raw.event(
        "order_placed",
        order_placed("O1", "C1", "web", [("A", 2, "19.99"), ("B", 1, "0.123456789")]),
        ts("2026-03-02T10:00:00"),
    )
    raw.event("order_status_changed", status_changed("O1", "paid"), ts("2026-03-02T10:05:00"))
    raw.event("order_status_changed", status_changed("O1", "shipped"), ts("2026-03-02T18:00:00"), copies=2)
    raw.event(
        "order_placed", order_placed("O2", "C2", "mobile_app", [("A", 3, "10.10")]), ts("2026-03-02T14:00:00")
    )
    raw.event(
        "order_status_changed", status_changed("O2", "cancelled", "customer"), ts("2026-03-02T15:00:00")
    )
    raw.event(
        "order_placed",
        order_placed("O3", "C1", "marketplace", [("B", 1, "250.00")]),
        ts("2026-03-03T09:00:00"),
    )
    raw.event("order_status_changed", status_changed("O3", "paid"), ts("2026-03-03T09:01:00"))
    raw.event("order_status_changed", status_changed("O3", "refunded", "damaged"), ts("2026-03-03T20:00:00"))
    raw.event(
        "order_placed",
        order_placed("O4", "C3", "retail", [("A", 1, "5.00")]),
        ts("2026-03-03T11:00:00"),
        event_id=O4_EVENT_ID,
        copies=2,
    )

    raw.event("batch_started", batch_started("BT1", "A", 100), ts("2026-03-01T08:00:00"))
    raw.event("batch_completed", batch_completed("BT1", "A", 100, 98, 3), ts("2026-03-01T09:00:00"))
    raw.event("batch_started", batch_started("BT2", "B", 50), ts("2026-03-01T10:00:00"))
    raw.event("batch_completed", batch_completed("BT2", "B", 50, 0, 0), ts("2026-03-01T10:30:00"))
    raw.event("batch_started", batch_started("BT3", "A", 10), ts("2026-03-02T08:00:00"))
    raw.flush()


def load_phase_two(raw: RawWriter) -> None:
    """A later load run: a late refund, an out-of-order status, a redelivery, a new order, a price change."""
    raw.advance(timedelta(hours=1))
    raw.event("order_status_changed", status_changed("O1", "refunded"), ts("2026-03-04T08:00:00"))
    raw.event("order_status_changed", status_changed("O2", "paid"), ts("2026-03-02T14:30:00"))
    raw.event(
        "order_placed",
        order_placed("O4", "C3", "retail", [("A", 1, "5.00")]),
        ts("2026-03-03T11:00:00"),
        event_id=O4_EVENT_ID,
    )
    raw.event(
        "order_placed", order_placed("O5", "C2", "web", [("B", 4, "0.000000001")]), ts("2026-03-04T10:00:00")
    )
    raw.event("order_status_changed", status_changed("O5", "paid"), ts("2026-03-04T10:05:00"))
    b_v2 = card("B", "LeBron James", "Lakers", "1.00", sport="basketball", rookie=True)
    raw.event("card_updated", card_updated(b_v2), ts("2026-03-03T00:00:00"))
    raw.event("batch_completed", batch_completed("BT3", "A", 10, 10, 10), ts("2026-03-02T10:00:00"))
    raw.flush()


# (order_id, line_number) -> (sku, quantity, unit_price, gross, net, status)
FCT_ORDERS_PHASE_ONE = {
    ("O1", 1): ("A", 2, D("19.99"), D("39.98"), D("39.98"), "shipped"),
    ("O1", 2): ("B", 1, D("0.123456789"), D("0.123456789"), D("0.123456789"), "shipped"),
    ("O2", 1): ("A", 3, D("10.10"), D("30.30"), D("0"), "cancelled"),
    ("O3", 1): ("B", 1, D("250.00"), D("250.00"), D("0"), "refunded"),
    ("O4", 1): ("A", 1, D("5.00"), D("5.00"), D("0"), "placed"),  # not paid: no net revenue (R6)
}
FCT_ORDERS_PHASE_TWO = {
    **FCT_ORDERS_PHASE_ONE,
    ("O1", 1): ("A", 2, D("19.99"), D("39.98"), D("0"), "refunded"),
    ("O1", 2): ("B", 1, D("0.123456789"), D("0.123456789"), D("0"), "refunded"),
    ("O5", 1): ("B", 4, D("0.000000001"), D("0.000000004"), D("0.000000004"), "paid"),
}

# (sku, valid_from) -> (team, list_price, valid_to, is_current)
# A SKU's first version is backdated to var scd2_beginning_of_time (R7).
DIM_CARD = {
    ("A", ts("1900-01-01T00:00:00")): ("Angels", D("12.50"), ts("2026-03-02T12:00:00"), False),
    ("A", ts("2026-03-02T12:00:00")): ("Yankees", D("12.50"), None, True),
    ("B", ts("1900-01-01T00:00:00")): ("Lakers", D("0.123456789"), ts("2026-03-03T00:00:00"), False),
    ("B", ts("2026-03-03T00:00:00")): ("Lakers", D("1.00"), None, True),
}

# (order_date, sku, player, team) -> (order_count, units_ordered, units_net, gross, net)
DAILY_DEMAND = {
    ("2026-03-02", "A", "Mike Trout", "Angels"): (1, 2, 0, D("39.98"), D("0")),
    ("2026-03-02", "B", "LeBron James", "Lakers"): (1, 1, 0, D("0.123456789"), D("0")),
    ("2026-03-02", "A", "Mike Trout", "Yankees"): (1, 3, 0, D("30.30"), D("0")),
    ("2026-03-03", "B", "LeBron James", "Lakers"): (1, 1, 0, D("250.00"), D("0")),
    ("2026-03-03", "A", "Mike Trout", "Yankees"): (1, 1, 0, D("5.00"), D("0")),  # placed: not paid (R6)
    ("2026-03-04", "B", "LeBron James", "Lakers"): (1, 4, 4, D("0.000000004"), D("0.000000004")),
}

# batch_id -> (planned, produced, defective, defect_rate, cycle_time_seconds)
BATCHES = {
    "BT1": (100, 98, 3, D("0.030612"), 3600),
    "BT2": (50, 0, 0, None, 1800),
    "BT3": (10, 10, 10, D("1.000000"), 7200),
}

# customer_id -> (order_count, first_channel)
CUSTOMERS = {"C1": (2, "web"), "C2": (2, "mobile_app"), "C3": (1, "retail")}
