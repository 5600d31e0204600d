"""`cardpipe summary` shows money per currency, as money: never one figure adding USD to JPY."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
from cardpipe.report.summary import Summary, format_money, warehouse_summary


def test_money_is_shown_with_its_currency_and_two_decimals() -> None:
    assert format_money(Decimal("8836655.263527309"), "USD") == "USD 8,836,655.26"
    assert format_money(Decimal("0.005"), "EUR") == "EUR 0.00"  # half-even, like the banks' rounding
    assert format_money(Decimal("0.015"), "EUR") == "EUR 0.02"
    assert format_money(Decimal("1500"), "JPY") == "JPY 1,500.00"
    assert format_money(None, "USD") == "-"


def test_revenue_is_summed_per_currency(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_orders (order_id varchar, sku varchar, currency_code varchar, "
            "quantity integer, gross_revenue decimal(38, 9), net_revenue decimal(38, 9))"
        )
        con.execute(
            "insert into marts.fct_orders values "
            "('O1', 'A', 'USD', 2, 39.98, 39.98), ('O1', 'B', 'USD', 1, 0.123456789, 0.123456789), "
            "('O2', 'A', 'JPY', 3, 4500, 0)"
        )
        con.execute(
            "create table marts.fct_daily_demand (player_name varchar, team varchar, currency_code varchar, "
            "units_net bigint, net_revenue decimal(38, 9))"
        )
        con.execute(
            "insert into marts.fct_daily_demand values ('P1', 'T', 'USD', 2, 39.98), "
            "('P2', 'T', 'USD', 1, 0.12), ('P1', 'T', 'USD', 1, 1), ('P3', 'T', 'JPY', 3, 0)"
        )
    summary = Summary()
    warehouse_summary(db, summary)
    assert summary.revenue_by_currency == [
        ("JPY", 1, 1, 3, Decimal("4500"), Decimal("0")),
        ("USD", 1, 2, 3, Decimal("40.103456789"), Decimal("40.103456789")),
    ]
    assert "gross revenue" not in summary.totals and summary.totals["units"] == 6
    # the top SKUs of each currency (never ranked across currencies)
    assert summary.top_skus == [("A", 3, "JPY 0.00"), ("A", 2, "USD 39.98"), ("B", 1, "USD 0.12")]
    assert summary.top_players == [
        ("P3", "T", 3, "JPY 0.00"),
        ("P1", "T", 3, "USD 40.98"),
        ("P2", "T", 1, "USD 0.12"),
    ]
