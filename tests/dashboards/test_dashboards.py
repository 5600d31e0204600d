"""The dashboards as a person sees them: built offline, opened in headless Chromium, every chart drawn, no
console error, and a headline figure per page equal to the marts (exact, with its currency)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import NODE_MODULES, PAGE_FILES, ROOT, serve

sys.path.insert(0, str(ROOT / "dashboards"))

from dashgen import queries
from dashgen.build import Result, build, chart_data
from dashgen.spec import Chart

SQLFLUFF = ROOT / "dbt/.venv/bin/sqlfluff"


def _money(currency: str, rounded: Decimal) -> str:
    return f"{currency} {rounded:,.2f}"


def _tiles(page: dict[str, Any], headline: str) -> dict[str | None, str]:
    return {t["currency"]: t["value"] for t in page["tiles"] if t["headline"] == headline}


def test_build_ran_with_no_route_out(offline_build: dict[str, Any]) -> None:
    probe = offline_build["probe"]
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower(), probe.stderr
    assert "dashboards built" in offline_build["build"].stdout
    assets = {p.name for p in (offline_build["out"] / "assets").iterdir()}
    assert {"echarts.min.js", "dashboard.js", "dashboard.css"} <= assets


@pytest.mark.parametrize("file", PAGE_FILES)
def test_page_opens_clean_and_every_chart_is_drawn(browsed: dict[str, Any], marts: Any, file: str) -> None:
    page = browsed[file]
    assert page["status"] == 200
    assert page["console_errors"] == [] and page["page_errors"] == [], page
    assert page["external_requests"] == [] and page["failed_requests"] == [], page
    assert Path(page["screenshot"]).stat().st_size > 20_000
    assert page["charts"], f"{file} has no chart"
    for chart in page["charts"]:
        rows = marts.execute(queries.sql(chart["query"])).fetchall()
        assert rows, f"{chart['query']} returned no rows: an empty chart"
        assert chart["points"] == len(rows), chart
        assert chart["rendered"] and chart["shapes"] > 0, f"{file}: chart {chart['query']} not drawn: {chart}"
    for table in page["tables"]:
        assert table["rows"], f"{file}: table {table['query']} is empty"


def test_product_net_revenue_per_currency(browsed: dict[str, Any], marts: Any) -> None:
    expected = {
        c: _money(c, v)
        for c, v in marts.execute(
            "select currency_code, round(sum(net_revenue), 2) from marts.fct_orders group by 1"
        ).fetchall()
    }
    assert set(expected) == {"EUR", "USD"}  # the fixture has two currencies: nothing may add them up
    assert _tiles(browsed["product.html"], "net_revenue") == expected
    top = browsed["product.html"]["tables"][0]["rows"][0]
    (units,) = marts.execute(
        "select sum(units_net) from marts.fct_daily_demand where sku = ? and currency_code = ?",
        [top["sku"], top["currency_code"]],
    ).fetchone()
    assert top["units_net"] == f"{units:,}"


def test_product_net_units_follow_the_marts_rule(marts: Any) -> None:
    """Net units per day and currency on the Product page equal fct_daily_demand's (paid, shipped, delivered:
    an unpaid order is not net). The page once counted placed orders as net."""
    assert marts.execute("select count(*) from marts.fct_orders where order_status = 'placed'").fetchone()[0]
    page = {
        (str(d), c): int(u) for d, c, u, _ in marts.execute(queries.sql("product/trend_by_day")).fetchall()
    }
    want = {
        (str(d), c): int(u)
        for d, c, u in marts.execute(
            "select order_date, currency_code, sum(units_net) from marts.fct_daily_demand group by 1, 2"
        ).fetchall()
    }
    assert page == want


def test_marketing_gross_revenue_and_repeat_rate(browsed: dict[str, Any], marts: Any) -> None:
    page = browsed["marketing.html"]
    expected = {
        c: _money(c, v)
        for c, v in marts.execute(
            "select currency_code, round(sum(gross_revenue), 2) from marts.fct_orders group by 1"
        ).fetchall()
    }
    assert _tiles(page, "gross_revenue") == expected
    repeat, customers = marts.execute(
        "select count(*) filter (where order_count > 1), count(*) from marts.dim_customer"
    ).fetchone()
    assert _tiles(page, "repeat_rate") == {None: f"{Decimal(repeat) * 100 / Decimal(customers):.2f}%"}
    reasons = {r["reason"] for r in page["tables"][-1]["rows"]}
    assert {"damaged in transit", "customer request"} <= reasons


def test_operations_running_batches_and_defect_rate(browsed: dict[str, Any], marts: Any) -> None:
    page = browsed["operations.html"]
    running, rate = marts.execute(
        "select count(*) filter (where not is_completed), "
        "round(sum(defective_units) * 100.0 / sum(produced_units), 2) from marts.fct_batch_performance"
    ).fetchone()
    assert _tiles(page, "batches_running") == {None: str(running)}
    assert _tiles(page, "defect_rate") == {None: f"{rate:.2f}%"}
    assert len(page["tables"][-1]["rows"]) == running


def test_data_quality_counts_and_dbt_results(browsed: dict[str, Any], marts: Any, warehouse: Any) -> None:
    page = browsed["data-quality.html"]
    (events,) = marts.execute("select count(*) from raw.events").fetchone()
    assert _tiles(page, "raw_events") == {None: f"{events:,}"}
    assert _tiles(page, "dead_lettered") == {None: "1"}
    assert _tiles(page, "freshness") == {None: "fresh"}
    verdicts = {r["window_id"]: r["verdict"] for r in page["tables"][0]["rows"]}
    assert verdicts and set(verdicts.values()) == {"reconciled"}, verdicts
    results = json.loads((warehouse.work / "target/run_results.json").read_text())["results"]
    passed = sum(1 for r in results if r["unique_id"].startswith("test.") and r["status"] == "pass")
    assert _tiles(page, "dbt_pass") == {None: f"{passed:,}"}
    assert int(page["dbt_tests"]) == passed


def test_a_money_chart_must_split_by_currency() -> None:
    result = Result(["channel", "net_revenue"], [{"channel": "web", "net_revenue": Decimal("1.5")}])
    with pytest.raises(ValueError, match="currency_code"):
        chart_data(Chart("q", "t", "channel", ("net_revenue",)), result)


def test_page_queries_parse_as_snowflake(tmp_path: Path) -> None:
    """The cloud runs the same query files on Snowflake: each must parse in sqlfluff's Snowflake dialect."""
    names = queries.names()
    assert len(names) >= 25
    for name in names:
        target = tmp_path / "snowflake" / f"{name.replace('/', '__')}.sql"
        target.parent.mkdir(exist_ok=True)
        target.write_text(queries.sql(name, "snowflake"))
    ok = subprocess.run(
        [str(SQLFLUFF), "parse", "--dialect", "snowflake", str(tmp_path / "snowflake")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "unparsable" not in ok.stdout.lower(), ok.stdout[-3000:]
    # ... and the check bites: the DuckDB rendering of the reconciliation query is not Snowflake SQL.
    duck = tmp_path / "duckdb.sql"
    duck.write_text(queries.sql("data_quality/reconciliation", "duckdb"))
    bad = subprocess.run(
        [str(SQLFLUFF), "parse", "--dialect", "snowflake", str(duck)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0 and "unparsable" in bad.stdout.lower()


def test_cli_prints_the_snowflake_rendering() -> None:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "dashgen", "sql", "data_quality/reconciliation"],
        env={"PYTHONPATH": str(ROOT / "dashboards"), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert queries.sql("data_quality/reconciliation", "snowflake") in out
    assert "ingest:window_id::varchar" in out and "->>" not in out


def test_an_empty_chart_is_caught(warehouse: Any, tmp_path: Path) -> None:
    """The browser check bites: with no batches, the Operations charts are not drawn and say so."""
    db = tmp_path / "empty.duckdb"
    shutil.copy(warehouse.db_path, db)
    with duckdb.connect(str(db)) as con:
        con.execute("delete from marts.fct_batch_performance")
    build(db, tmp_path / "none.json", tmp_path / "site")
    with serve(tmp_path / "site") as base:
        proc = subprocess.run(
            ["node", str(ROOT / "tests/dashboards/browse.cjs"), base, str(tmp_path), "operations.html"],
            env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    (page,) = json.loads(proc.stdout)["pages"]
    assert page["charts"] and all(not c["rendered"] and c["points"] == 0 for c in page["charts"])
    assert all("no data" in c["text"] for c in page["charts"])
