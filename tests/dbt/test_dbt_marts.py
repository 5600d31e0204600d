"""Full dbt build on a fixture warehouse: marts equal hand-computed numbers, reruns are no-ops, and an
incremental run after new events equals a full refresh, row for row."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from conftest import DbtProject, snapshot_marts
from raw_fixture import RawWriter
from scenario import (
    BATCHES,
    CUSTOMERS,
    DAILY_DEMAND,
    DIM_CARD,
    FCT_ORDERS_PHASE_ONE,
    FCT_ORDERS_PHASE_TWO,
    load_phase_one,
    load_phase_two,
)

Snapshot = dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def runs(dbt_project: DbtProject, raw_writer: RawWriter) -> dict[str, Any]:
    """Run, load more, build (incremental), build again, then full-refresh; snapshot after each.
    (The machine is slow: tests run in the two builds, not after every step.)"""
    out: dict[str, Any] = {}
    load_phase_one(raw_writer)
    dbt_project.run("seed")
    dbt_project.run("run")
    out["phase_one_orders"] = fct_orders(dbt_project)
    load_phase_two(raw_writer)
    dbt_project.run("build")
    out["incremental"] = snapshot_marts(dbt_project)
    out["phase_two_orders"] = fct_orders(dbt_project)
    out["demand"] = dbt_project.query(
        "select cast(order_date as varchar), sku, player_name, team, order_count, units_ordered, units_net, "
        "gross_revenue, net_revenue from marts.fct_daily_demand"
    )
    out["cards"] = dbt_project.query(
        "select sku, valid_from, team, list_price, valid_to, is_current from marts.dim_card"
    )
    out["batches"] = dbt_project.query(
        "select batch_id, planned_units, produced_units, defective_units, defect_rate, cycle_time_seconds "
        "from marts.fct_batch_performance"
    )
    out["customers"] = dbt_project.query(
        "select customer_id, order_count, first_channel from marts.dim_customer"
    )
    dbt_project.run("build")
    out["rerun"] = snapshot_marts(dbt_project)
    out["run_results"] = json.loads((dbt_project.work / "target/run_results.json").read_text())["results"]
    dbt_project.run("run", "--full-refresh")
    out["full_refresh"] = snapshot_marts(dbt_project)
    return out


def fct_orders(project: DbtProject) -> dict[tuple[str, int], tuple[Any, ...]]:
    rows = project.query(
        "select order_id, line_number, sku, quantity, unit_price, gross_revenue, net_revenue, order_status "
        "from marts.fct_orders"
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def test_fct_orders_first_load(runs: dict[str, Any]) -> None:
    assert runs["phase_one_orders"] == FCT_ORDERS_PHASE_ONE


def test_fct_orders_after_late_events(runs: dict[str, Any]) -> None:
    """Late refund restates O1, an out-of-order 'paid' leaves O2 cancelled, O4's redelivery counts once."""
    assert runs["phase_two_orders"] == FCT_ORDERS_PHASE_TWO


def test_revenue_totals_to_the_cent(runs: dict[str, Any]) -> None:
    orders = runs["phase_two_orders"]
    assert sum(v[3] for v in orders.values()) == Decimal("325.403456793")
    # O5 is paid; every other order is reversed or unpaid
    assert sum(v[4] for v in orders.values()) == Decimal("0.000000004")


def test_dim_card_scd2(runs: dict[str, Any]) -> None:
    assert {(r[0], r[1]): tuple(r[2:]) for r in runs["cards"]} == DIM_CARD


def test_daily_demand(runs: dict[str, Any]) -> None:
    assert {tuple(r[:4]): tuple(r[4:]) for r in runs["demand"]} == DAILY_DEMAND


def test_batch_performance(runs: dict[str, Any]) -> None:
    assert {r[0]: tuple(r[1:]) for r in runs["batches"]} == BATCHES


def test_dim_customer(runs: dict[str, Any]) -> None:
    assert {r[0]: tuple(r[1:]) for r in runs["customers"]} == CUSTOMERS


def test_rerun_changes_nothing(runs: dict[str, Any]) -> None:
    assert runs["rerun"] == runs["incremental"]


@pytest.mark.parametrize(
    "table",
    [
        "marts.fct_orders",
        "marts.dim_card",
        "marts.dim_customer",
        "marts.dim_date",
        "marts.fct_batch_performance",
        "marts.fct_daily_demand",
    ],
)
def test_incremental_equals_full_refresh(runs: dict[str, Any], table: str) -> None:
    assert runs["incremental"][table], f"{table} is empty: the comparison would prove nothing"
    assert runs["full_refresh"][table] == runs["incremental"][table]


def test_staging_dedupes_redeliveries(dbt_project: DbtProject, runs: dict[str, Any]) -> None:
    raw, staged = dbt_project.query(
        "select (select count(*) from raw.events where event_type = 'order_placed'), "
        "(select count(*) from staging.stg_events__order_placed)"
    )[0]
    assert (raw, staged) == (7, 5)  # O4 delivered three times across two loads


def test_every_dbt_test_passed(runs: dict[str, Any]) -> None:
    """The rerun build ran every data, unit and data-quality test; none may fail or warn."""
    results = runs["run_results"]
    tests = [r for r in results if r["unique_id"].startswith(("test.", "unit_test."))]
    assert len(tests) > 100
    assert {r["status"] for r in tests} == {"pass"}, [r["unique_id"] for r in tests if r["status"] != "pass"]


def test_reporting_currency_view_converts_at_the_week_rate(
    dbt_project: DbtProject, runs: dict[str, Any]
) -> None:
    """R1: USD is the reporting currency (rate 1); every line has a rate; the exact amounts stay beside."""
    rows = dbt_project.query(
        "select currency_code, reporting_currency, units_per_reporting_unit, gross_revenue, "
        "gross_revenue_reporting from marts.rpt_orders_reporting_currency"
    )
    assert len(rows) == len(FCT_ORDERS_PHASE_TWO)
    assert {(r[0], r[1], r[2]) for r in rows} == {("USD", "USD", Decimal(1))}
    assert all(r[3] == r[4] for r in rows)


def test_fx_coverage_fails_for_a_week_without_a_rate(dbt_project: DbtProject, runs: dict[str, Any]) -> None:
    """Drop one week's USD rate: the coverage test names that currency and week, then the rates come back."""
    week = dbt_project.query(
        "select cast(date_trunc('week', min(order_date)) as date) from marts.fct_orders"
    )[0][0]
    with duckdb.connect(str(dbt_project.db_path)) as con:
        con.execute("delete from staging.stg_fx_rates where currency_code = 'USD' and week_start = ?", [week])
    try:
        proc = dbt_project.run(
            "test", "--select", "fx_rates_cover_every_order_week", "--store-failures", check=False
        )
        assert proc.returncode != 0
        assert dbt_project.query(
            "select currency_code, week_start, rates from dbt_test__audit.fx_rates_cover_every_order_week"
        ) == [("USD", week, 0)]
    finally:
        dbt_project.run("run", "--select", "stg_fx_rates")
