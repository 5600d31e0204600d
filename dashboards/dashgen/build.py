"""Build the static dashboard site from the warehouse: run each page's queries once, render HTML with the
figures already formatted and the chart data embedded, and copy the locally installed chart library next to
it. Nothing is fetched: the site opens from disk or any static server, offline."""

from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from dashgen import fmt, queries
from dashgen.pages import PAGES
from dashgen.spec import CURRENCY, Block, Chart, DbtTests, Freshness, Note, Page, Table, Tiles, column_format

DASHBOARDS_DIR = Path(__file__).resolve().parents[1]
ASSETS = DASHBOARDS_DIR / "assets"
ECHARTS = DASHBOARDS_DIR / "node_modules" / "echarts" / "dist" / "echarts.min.js"


@dataclass
class Result:
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class Context:
    con: duckdb.DuckDBPyConnection
    run_results: Path
    built_at: datetime
    cache: dict[str, Result] = field(default_factory=dict)
    charts: list[dict[str, Any]] = field(default_factory=list)

    def query(self, name: str) -> Result:
        if name not in self.cache:
            cur = self.con.execute(queries.sql(name, "duckdb"))
            columns = [d[0] for d in cur.description]
            self.cache[name] = Result(columns, [dict(zip(columns, r, strict=True)) for r in cur.fetchall()])
        return self.cache[name]


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _cell(row: dict[str, Any], column: str) -> str:
    return fmt.value(row[column], column_format(column), row.get(CURRENCY))


def _sql_details(name: str) -> str:
    return (
        f"<details><summary>SQL: queries/{_e(name)}.sql</summary><pre>{_e(queries.sql(name))}</pre></details>"
    )


def render_tiles(block: Tiles, ctx: Context) -> str:
    result = ctx.query(block.query)
    tiles = []
    for column, label in zip(block.columns, block.labels, strict=True):
        for row in result.rows:
            # a per-currency query: every figure of the row is that currency's (units too), so say so
            currency = row.get(CURRENCY)
            attrs = f'data-headline="{_e(column)}"' + (f' data-currency="{_e(currency)}"' if currency else "")
            suffix = f" · {_e(currency)}" if currency else ""
            tiles.append(
                f'<div class="tile" {attrs}><div class="label">{_e(label)}{suffix}</div>'
                f'<div class="value">{_e(_cell(row, column))}</div></div>'
            )
    return f'<section class="tiles" data-query="{_e(block.query)}">{"".join(tiles)}</section>'


def render_table(block: Table, ctx: Context) -> str:
    result = ctx.query(block.query)
    head = "".join(f"<th>{_e(c)}</th>" for c in block.columns)
    body = "".join(
        "<tr>" + "".join(f'<td data-col="{_e(c)}">{_e(_cell(row, c))}</td>' for c in block.columns) + "</tr>"
        for row in result.rows
    )
    if not result.rows:
        body = f'<tr><td colspan="{len(block.columns)}" class="empty">no rows</td></tr>'
    return (
        f'<section class="block"><h2>{_e(block.title)}</h2>'
        f'<table data-query="{_e(block.query)}" data-rows="{len(result.rows)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{_sql_details(block.query)}</section>"
    )


def _bound(raw: Any) -> str:
    value = Decimal(raw)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.1f}"


def _x_label(row: dict[str, Any], block: Chart) -> str:
    if block.kind == "histogram" and block.x_to:
        return f"{_bound(row[block.x])}{fmt.DASH}{_bound(row[block.x_to])}"
    return _cell(row, block.x)


def chart_data(block: Chart, result: Result) -> dict[str, Any]:
    """Categories and series for the browser: a money series is one currency, never a sum across them."""
    if any(column_format(y) == "money" for y in block.y) and block.series != CURRENCY:
        raise ValueError(f"{block.query}: a money chart must split its series by {CURRENCY}")
    categories: list[str] = []
    for row in result.rows:
        label = _x_label(row, block)
        if label not in categories:
            categories.append(label)
    series: dict[str, list[dict[str, Any] | None]] = {}
    for row in result.rows:
        for y in block.y:
            name = str(row[block.series]) if block.series else y
            if block.series and len(block.y) > 1:
                name = f"{name} {y}"
            points = series.setdefault(name, [None] * len(categories))
            points[categories.index(_x_label(row, block))] = {
                "value": fmt.number(row[y]),
                "text": _cell(row, y),
            }
    return {
        "kind": block.kind,
        "stack": block.stack,
        "categories": categories,
        "series": [{"name": k, "data": v} for k, v in series.items()],
        "y_format": column_format(block.y[0]),
    }


def render_chart(block: Chart, ctx: Context) -> str:
    result = ctx.query(block.query)
    chart_id = f"chart-{len(ctx.charts)}"
    ctx.charts.append({"id": chart_id, **chart_data(block, result)})
    return (
        f'<section class="block"><h2>{_e(block.title)}</h2>'
        f'<div class="chart" id="{chart_id}" data-query="{_e(block.query)}" data-points="{len(result.rows)}">'
        f"</div>{_sql_details(block.query)}</section>"
    )


def render_freshness(block: Freshness, ctx: Context) -> str:
    row = ctx.query(block.query).rows[0]
    warn = float(os.environ.get("RAW_EVENTS_FRESHNESS_WARN_HOURS", "6"))
    error = float(os.environ.get("RAW_EVENTS_FRESHNESS_ERROR_HOURS", "24"))
    last = row["last_loaded_at"]
    if last is None:
        age, verdict = fmt.DASH, "error: RAW is empty"
    else:
        hours = (ctx.built_at - last).total_seconds() / 3600
        age = f"{hours:.1f} h"
        verdict = "error" if hours > error else "warn" if hours > warn else "fresh"
    tiles = [
        ("last_loaded_at", "Newest RAW load", _cell(row, "last_loaded_at")),
        ("age_hours", f"Age at build (warn {warn:g} h, error {error:g} h)", age),
        ("freshness", "Freshness", verdict),
        ("raw_events", "Raw event rows", _cell(row, "raw_events")),
        ("last_occurred_at", "Newest event time", _cell(row, "last_occurred_at")),
    ]
    body = "".join(
        f'<div class="tile" data-headline="{k}"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(v)}</div></div>'
        for k, label, v in tiles
    )
    return (
        f'<section class="tiles" data-query="{_e(block.query)}">{body}</section>{_sql_details(block.query)}'
    )


def render_dbt_tests(_: DbtTests, ctx: Context) -> str:
    path = ctx.run_results
    if not path.exists():
        return (
            '<section class="block" data-dbt-tests="missing"><h2>Last dbt test results</h2>'
            f"<p>No dbt results at <code>{_e(path)}</code>: run <code>make dbt-build</code>.</p></section>"
        )
    doc = json.loads(path.read_text())
    tests = [r for r in doc["results"] if r["unique_id"].startswith(("test.", "unit_test."))]
    counts: dict[str, int] = {}
    for r in tests:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    order = {"fail": 0, "error": 1, "warn": 2}
    tests.sort(key=lambda r: (order.get(r["status"], 3), r["unique_id"]))
    tiles = "".join(
        f'<div class="tile" data-headline="dbt_{_e(status)}"><div class="label">tests {_e(status)}</div>'
        f'<div class="value">{n:,}</div></div>'
        for status, n in sorted(counts.items())
    )

    def table(results: list[dict[str, Any]]) -> str:
        rows = "".join(
            f'<tr class="status-{_e(r["status"])}"><td>{_e(r["status"])}</td>'
            f'<td class="test-name">{_e(_test_name(r["unique_id"]))}</td>'
            f"<td>{_e(r.get('failures') if r.get('failures') is not None else '')}</td>"
            f"<td>{r.get('execution_time', 0):.2f} s</td></tr>"
            for r in results
        )
        return (
            f'<table data-rows="{len(results)}"><thead><tr><th>status</th><th>test</th><th>failures</th>'
            f"<th>time</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    problems = [r for r in tests if r["status"] != "pass"]
    passed = [r for r in tests if r["status"] == "pass"]
    generated = doc.get("metadata", {}).get("generated_at", "?")
    return (
        f'<section class="block" data-dbt-tests="{len(tests)}"><h2>Last dbt test results</h2>'
        f"<p>{len(tests)} tests in the run of {_e(generated)} (<code>{_e(path)}</code>).</p>"
        f'<div class="tiles">{tiles}</div>'
        + (table(problems) if problems else "<p>Every test passed.</p>")
        + f"<details><summary>{len(passed)} passing tests</summary>{table(passed)}</details></section>"
    )


def _test_name(unique_id: str) -> str:
    """test.sportscards.not_null_fct_orders_sku.1a2b3c -> not_null_fct_orders_sku"""
    parts = unique_id.split(".")
    return parts[2] if len(parts) >= 3 else unique_id


def render_block(block: Block, ctx: Context) -> str:
    match block:
        case Tiles():
            return render_tiles(block, ctx)
        case Chart():
            return render_chart(block, ctx)
        case Table():
            return render_table(block, ctx)
        case Freshness():
            return render_freshness(block, ctx)
        case DbtTests():
            return render_dbt_tests(block, ctx)
        case Note():
            return f'<p class="note">{block.html}</p>'


def _nav(current: str) -> str:
    links = "".join(
        f'<a href="{p.file_name}"{" class=current" if p.slug == current else ""}>{_e(p.title)}</a>'
        for p in PAGES
    )
    return f'<nav><a href="index.html" class="home">Sports cards</a>{links}</nav>'


def _document(title: str, current: str, body: str, charts: list[dict[str, Any]], built_at: datetime) -> str:
    data = json.dumps(charts).replace("</", "<\\/")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><link rel=stylesheet href=assets/dashboard.css></head><body>"
        f"{_nav(current)}<main><h1>{_e(title)}</h1>{body}</main>"
        f"<footer>Built {built_at:%Y-%m-%d %H:%M:%S} UTC from the dbt marts.</footer>"
        f'<script type="application/json" id="chart-data">{data}</script>'
        "<script src=assets/echarts.min.js></script><script src=assets/dashboard.js></script></body></html>"
    )


def render_page(page: Page, ctx: Context) -> str:
    ctx.charts = []
    body = f'<p class="audience">{_e(page.audience)}</p>' + "".join(render_block(b, ctx) for b in page.blocks)
    return _document(page.title, page.slug, body, ctx.charts, ctx.built_at)


def build(duckdb_path: Path, run_results: Path, out: Path) -> list[Path]:
    """Write the site into `out` (replaced whole) and return the page files."""
    if not duckdb_path.exists():
        raise FileNotFoundError(f"no warehouse at {duckdb_path}: run `make demo` (or `make dbt-build`) first")
    if not ECHARTS.exists():
        raise FileNotFoundError(f"{ECHARTS} is missing: run `make setup` (npm ci in dashboards/)")
    built_at = datetime.now(UTC)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "assets").mkdir(parents=True)
    shutil.copy2(ECHARTS, tmp / "assets" / "echarts.min.js")
    for asset in ASSETS.iterdir():
        shutil.copy2(asset, tmp / "assets" / asset.name)
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        ctx = Context(con=con, run_results=run_results, built_at=built_at)
        written = []
        for page in PAGES:
            target = tmp / page.file_name
            target.write_text(render_page(page, ctx))
            written.append(out / page.file_name)
    items = "".join(f'<li><a href="{p.file_name}">{_e(p.title)}</a>: {_e(p.audience)}</li>' for p in PAGES)
    (tmp / "index.html").write_text(
        _document("Sports card analytics", "", f"<ul class=pages>{items}</ul>", [], built_at)
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return written
