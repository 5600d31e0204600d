"""Issue 10's catalog and operations rules on DuckDB, one test per case (each fails on the models before it):
R7 same-instant catalog events are one deterministic version (card_created before card_updated), R8 an order
before its card points at an inferred member and is re-pointed when the card arrives, R10 the latest
batch_completed is the correction and a completion before its start is flagged (not negative), R11 dim_date
covers dates beyond 2030, and every SCD2 invariant test fails on crafted bad rows (and only on them)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from conftest import DbtProject
from raw_fixture import (
    RawWriter,
    batch_completed,
    batch_started,
    card,
    card_created,
    card_updated,
    order_placed,
    ts,
)
from support.dbt_vars import scd2_beginning_of_time

# Chosen so that event_id order is the opposite of the rule's order: the update (applied last, R7) has the
# smaller id, the correction (loaded later, R10) the larger one than the original it corrects.
TIE_CREATED = "ffffffff-0000-4000-8000-000000000001"
TIE_UPDATED = "00000000-0000-4000-8000-000000000002"
BC1_ORIGINAL = "10000000-0000-4000-8000-000000000003"
BC1_CORRECTION = "90000000-0000-4000-8000-000000000004"
LATE_CARD = "20000000-0000-4000-8000-000000000005"
BEGINNING = scd2_beginning_of_time()  # dbt_project.yml var, its one owner


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def load_one(raw: RawWriter) -> None:
    """A tie at one instant, an order for a SKU with no card yet, batches (one completed before it
    started), and dates in 2031/2032."""
    at = ts("2026-03-01T00:00:00")
    raw.event(
        "card_created", card_created(card("T", "Tie Player", "Created", "1.00")), at, event_id=TIE_CREATED
    )
    raw.event(
        "card_updated", card_updated(card("T", "Tie Player", "Updated", "1.00")), at, event_id=TIE_UPDATED
    )
    raw.event("order_placed", order_placed("OL", "C1", "web", [("L", 1, "2.00")]), ts("2026-03-02T10:00:00"))
    raw.event("order_placed", order_placed("OF", "C2", "web", [("T", 1, "3.00")]), ts("2031-06-01T12:00:00"))
    raw.event("batch_started", batch_started("BC1", "T", 10), ts("2026-03-01T08:00:00"))
    raw.event(
        "batch_completed",
        batch_completed("BC1", "T", 10, 10, 5),
        ts("2026-03-01T09:00:00"),
        event_id=BC1_ORIGINAL,
    )
    raw.event("batch_started", batch_started("BC2", "T", 10), ts("2026-03-02T10:00:00"))
    raw.event("batch_completed", batch_completed("BC2", "T", 10, 10, 0), ts("2026-03-02T09:00:00"))
    raw.event("batch_started", batch_started("BC3", "T", 10), ts("2032-01-01T08:00:00"))
    raw.flush()


def load_two(raw: RawWriter) -> None:
    """A later load: the late SKU's first card (after its order), and BC1's corrected completion (same
    occurred_at, loaded later)."""
    raw.advance(timedelta(hours=1))
    raw.event(
        "card_created",
        card_created(card("L", "Late Player", "Late Team", "4.00")),
        ts("2026-03-05T00:00:00"),
        event_id=LATE_CARD,
    )
    raw.event(
        "batch_completed",
        batch_completed("BC1", "T", 10, 10, 1),
        ts("2026-03-01T09:00:00"),
        event_id=BC1_CORRECTION,
    )
    raw.flush()


def rows(project: DbtProject, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(project.db_path), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def results(project: DbtProject) -> dict[str, dict[str, Any]]:
    data = json.loads((project.work / "target/run_results.json").read_text())
    return {r["unique_id"]: r for r in data["results"]}


CARDS = "select * from marts.dim_card order by sku, valid_from"


@pytest.fixture(scope="module")
def runs(dbt_project: DbtProject, raw_writer: RawWriter) -> dict[str, Any]:
    """Build, load the late card and the correction, build (incremental), then full-refresh."""
    out: dict[str, Any] = {}
    load_one(raw_writer)
    dbt_project.run("build", "--exclude", "tag:data_quality")
    out["first"] = {
        "cards": rows(dbt_project, CARDS),
        "orders": rows(dbt_project, "select * from marts.fct_orders order by order_id"),
        "results": results(dbt_project),
    }
    load_two(raw_writer)
    dbt_project.run("build", "--exclude", "tag:data_quality")
    out["second"] = {
        "cards": rows(dbt_project, CARDS),
        "orders": rows(dbt_project, "select * from marts.fct_orders order by order_id"),
        "batches": {r["batch_id"]: r for r in rows(dbt_project, "select * from marts.fct_batch_performance")},
        "dates": rows(
            dbt_project, "select min(date_day) as lo, max(date_day) as hi, count(*) as n from marts.dim_date"
        ),
        "results": results(dbt_project),
    }
    dbt_project.run("run", "--full-refresh")
    out["full_cards"] = rows(dbt_project, CARDS)
    out["full_batches"] = rows(dbt_project, "select * from marts.fct_batch_performance order by batch_id")
    return out


def test_same_instant_events_are_one_version_created_before_updated(runs: dict[str, Any]) -> None:
    """R7: card_created and card_updated at one occurred_at -> one version, the update's state (applied
    after the creation whatever the event ids), keyed on its event; no zero-width version."""
    tie = [c for c in runs["second"]["cards"] if c["sku"] == "T"]
    assert [(c["team"], c["source_event_id"], c["card_key"]) for c in tie] == [
        ("Updated", TIE_UPDATED, md5(TIE_UPDATED))
    ]
    assert tie[0]["valid_from"] == BEGINNING and tie[0]["valid_to"] is None and tie[0]["is_current"]
    assert tie[0]["source_occurred_at"] == ts("2026-03-01T00:00:00")
    assert [c for c in runs["full_cards"] if c["sku"] == "T"] == tie  # the same on a rebuild


def test_order_before_its_card_gets_an_inferred_member(runs: dict[str, Any]) -> None:
    """R8: SKU L is ordered before any catalog event: one inferred row over all time."""
    late = [c for c in runs["first"]["cards"] if c["sku"] == "L"]
    assert len(late) == 1
    row = late[0]
    assert row["card_key"] == md5("inferred|L")
    assert (row["is_inferred"], row["is_current"], row["valid_from"], row["valid_to"]) == (
        True,
        True,
        BEGINNING,
        None,
    )
    assert (row["player_name"], row["team"], row["source_event_id"]) == (None, None, None)


def test_late_card_replaces_the_inferred_member_with_a_backdated_version(runs: dict[str, Any]) -> None:
    """R7/R8: when L's first card arrives (after the order), the inferred row is gone and the first version
    is backdated, so the earlier order falls inside it; incremental = full refresh."""
    late = [c for c in runs["second"]["cards"] if c["sku"] == "L"]
    assert [(c["card_key"], c["is_inferred"], c["valid_from"], c["team"]) for c in late] == [
        (md5(LATE_CARD), False, BEGINNING, "Late Team")
    ]
    assert late[0]["source_occurred_at"] == ts("2026-03-05T00:00:00")
    assert runs["full_cards"] == runs["second"]["cards"]


def test_fct_orders_points_at_the_inferred_member_then_the_real_card(runs: dict[str, Any]) -> None:
    """R9 with R8: fct_orders' card_key is the inferred row first, the backdated version after the card
    arrives (fct_orders re-derives orders whose SKU got catalog events)."""
    first = {o["order_id"]: o["card_key"] for o in runs["first"]["orders"]}
    second = {o["order_id"]: o["card_key"] for o in runs["second"]["orders"]}
    assert first["OL"] == md5("inferred|L")
    assert second["OL"] == md5(LATE_CARD)
    assert first["OF"] == second["OF"] == md5(TIE_UPDATED)


def test_point_in_time_join_finds_exactly_one_version(dbt_project: DbtProject, runs: dict[str, Any]) -> None:
    """Every order line matches exactly one dim_card row on sku and [valid_from, valid_to)."""
    matches = rows(
        dbt_project,
        "select o.order_id, count(c.sku) as n from marts.fct_orders as o left join marts.dim_card as c "
        "on o.sku = c.sku and o.ordered_at >= c.valid_from "
        "and (c.valid_to is null or o.ordered_at < c.valid_to) "
        "group by o.order_id order by o.order_id",
    )
    assert matches == [{"order_id": "OF", "n": 1}, {"order_id": "OL", "n": 1}]


def test_corrected_batch_completed_wins(runs: dict[str, Any]) -> None:
    """R10: BC1's correction has the same occurred_at and a later load: it replaces the original."""
    bc1 = runs["second"]["batches"]["BC1"]
    assert (bc1["defective_units"], bc1["defect_rate"]) == (1, Decimal("0.100000"))
    assert runs["full_batches"] == sorted(runs["second"]["batches"].values(), key=lambda b: b["batch_id"])


def test_completed_before_started_is_flagged_not_negative(runs: dict[str, Any]) -> None:
    """R10: a completion dated before its start: has_inconsistent_times, cycle time null (not -3600)."""
    batches = runs["second"]["batches"]
    assert (batches["BC2"]["has_inconsistent_times"], batches["BC2"]["cycle_time_seconds"]) == (True, None)
    assert (batches["BC1"]["has_inconsistent_times"], batches["BC1"]["cycle_time_seconds"]) == (
        False,
        Decimal("3600"),
    )
    assert (batches["BC3"]["has_inconsistent_times"], batches["BC3"]["is_completed"]) == (False, False)


def test_dim_date_covers_dates_beyond_2030(runs: dict[str, Any]) -> None:
    """R11: an order in 2031 and a batch in 2032 widen the calendar; the relationships test from
    fct_orders.order_date ran and passed."""
    (dates,) = runs["second"]["dates"]
    assert str(dates["lo"]) == "2020-01-01" and str(dates["hi"]) == "2032-01-01"
    assert dates["n"] == (dates["hi"] - dates["lo"]).days + 1
    relationship = [
        r
        for uid, r in runs["second"]["results"].items()
        if uid.startswith("test.") and "relationships_fct_orders_order_date" in uid
    ]
    assert [r["status"] for r in relationship] == ["pass"]


def test_order_date_relationship_fails_on_a_real_gap(dbt_project: DbtProject, runs: dict[str, Any]) -> None:
    """The calendar cut short (var date_spine_max_days) leaves 2031 out: the relationships test fails."""
    try:
        dbt_project.run("run", "--select", "dim_date", "--vars", "{date_spine_max_days: 3650}")
        proc = dbt_project.run("test", "--select", "fct_orders,test_name:relationships", check=False)
        failed = {uid for uid, r in results(dbt_project).items() if r["status"] == "fail"}
        assert proc.returncode != 0
        assert [uid for uid in failed if "order_date" in uid] and all(
            "order_date" in uid for uid in failed
        ), failed
    finally:
        dbt_project.run("run", "--select", "dim_date")


# SKU -> rows (valid_from, valid_to, is_current) crafted to break one invariant each (OV also leaves the
# chain, so the gap test sees it too).
BAD_CARDS = {
    "XOVERLAP": [(BEGINNING, ts("2026-03-10T00:00:00"), False), (ts("2026-03-05T00:00:00"), None, True)],
    "XGAP": [(BEGINNING, ts("2026-03-01T00:00:00"), False), (ts("2026-03-05T00:00:00"), None, True)],
    "XZERO": [
        (BEGINNING, ts("2026-03-01T00:00:00"), False),
        (ts("2026-03-01T00:00:00"), ts("2026-03-01T00:00:00"), False),
        (ts("2026-03-01T00:00:00"), None, True),
    ],
    "XTWOCURRENT": [(BEGINNING, ts("2026-03-01T00:00:00"), True), (ts("2026-03-01T00:00:00"), None, True)],
    "XLATE": [(ts("2026-03-01T00:00:00"), None, True)],
}
EXPECTED_FLAGS = {
    "scd2_no_overlap": {"XOVERLAP"},
    "scd2_no_gaps": {"XOVERLAP", "XGAP"},
    "scd2_no_zero_width": {"XZERO"},
    "scd2_one_current_row": {"XTWOCURRENT"},
    "scd2_starts_at": {"XLATE"},
}


def test_each_scd2_invariant_fails_on_crafted_rows(dbt_project: DbtProject, runs: dict[str, Any]) -> None:
    """Bad versions written straight into marts.dim_card: each SCD2 test fails, on exactly its SKUs."""
    with duckdb.connect(str(dbt_project.db_path)) as con:
        for sku, versions in BAD_CARDS.items():
            for i, (valid_from, valid_to, is_current) in enumerate(versions):
                con.execute(
                    "insert into marts.dim_card (card_key, sku, valid_from, valid_to, is_current, "
                    "is_inferred, last_load_batch) values (?, ?, ?, ?, ?, false, 0)",
                    [f"{sku}-{i}", sku, valid_from, valid_to, is_current],
                )
    try:
        dbt_project.run("test", "--select", "dim_card,test_name:scd2*", "--store-failures", check=False)
        status = {uid.split(".")[2]: r["status"] for uid, r in results(dbt_project).items()}
        assert set(status.values()) == {"fail"} and len(status) == len(EXPECTED_FLAGS), status
        flagged = {}
        for name in EXPECTED_FLAGS:
            (table,) = [t for t in status if t.startswith(name + "_")]
            flagged[name] = {
                r["natural_key"] for r in rows(dbt_project, f"select * from dbt_test__audit.{table}")
            }
        assert flagged == EXPECTED_FLAGS
    finally:
        with duckdb.connect(str(dbt_project.db_path)) as con:
            con.execute("delete from marts.dim_card where sku like 'X%'")
