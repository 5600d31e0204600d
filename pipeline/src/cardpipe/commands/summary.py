"""`cardpipe summary`: what happened at every layer, after a demo run (read-only)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from cardpipe.bronze.store import open_store
from cardpipe.config import get_settings
from cardpipe.report.summary import (
    Summary,
    bronze_objects,
    dbt_verdicts,
    format_money,
    journal_rows,
    warehouse_summary,
)


@click.command("summary")
@click.option(
    "--published", type=int, default=None, help="How many live events the publisher sent (for the table)."
)
@click.option(
    "--dbt-run-results",
    type=click.Path(path_type=Path),
    default=Path("dbt/target/run_results.json"),
    show_default=True,
    help="run_results.json of the last dbt build, for the data-quality verdicts.",
)
def command(published: int | None, dbt_run_results: Path) -> None:
    """Print counts per layer, the reconciliation verdict, top SKUs and players, defect rate by facility."""
    settings = get_settings()
    summary = Summary()
    summary.layers.append(("source", "journal rows (PostgreSQL)", journal_rows(settings.postgres)))
    if published is not None:
        summary.layers.append(("source", "published live events (RabbitMQ)", published))
    events, quarantined = bronze_objects(open_store(settings.bronze))
    summary.layers.append(("bronze", "event objects", events))
    summary.layers.append(("bronze", "quarantine objects", quarantined))
    if settings.warehouse.duckdb_path.exists():
        warehouse_summary(settings.warehouse.duckdb_path, summary)
    _print(summary, dbt_verdicts(dbt_run_results))


def _print(summary: Summary, verdicts: list[tuple[str, str]]) -> None:
    console = Console()
    layers = Table(title="Events at every layer")
    for column in ("layer", "what", "count"):
        layers.add_column(column, justify="right" if column == "count" else "left")
    for layer, what, count in summary.layers:
        layers.add_row(layer, what, "-" if count is None else f"{count:,}")
    console.print(layers)

    if summary.quarantine_by_reason:
        quarantine = Table(title="Quarantine by reason")
        for column in ("source", "reason", "events"):
            quarantine.add_column(column)
        for source, reason, n in summary.quarantine_by_reason:
            quarantine.add_row(source, reason, f"{n:,}")
        console.print(quarantine)

    totals = Table(title="Totals")
    totals.add_column("figure")
    totals.add_column("value", justify="right")
    for name, value in summary.totals.items():
        totals.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(totals)

    if summary.revenue_by_currency:
        console.print(_revenue_table(summary))

    verdict = Table(title=f"Data quality (dbt), {summary.reconciliation_windows} backfill window(s)")
    verdict.add_column("check")
    verdict.add_column("status")
    for name, status in verdicts:
        verdict.add_row(name, status)
    console.print(verdict)

    for title, columns, rows in (
        ("Top SKUs by net revenue, 3 per currency", ("sku", "units", "net revenue"), summary.top_skus),
        (
            "Top players by net revenue, 3 per currency",
            ("player", "team", "units", "net revenue"),
            summary.top_players,
        ),
        (
            "Defect rate by facility",
            ("facility", "batches", "produced", "defective", "defect rate"),
            summary.defect_by_facility,
        ),
    ):
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("-" if v is None else str(v) for v in row))
        console.print(table)


def _revenue_table(summary: Summary) -> Table:
    revenue = Table(title="Revenue by currency (net: paid, shipped, delivered)")
    for column in ("currency", "orders", "lines", "units", "gross revenue", "net revenue"):
        revenue.add_column(column, justify="left" if column == "currency" else "right")
    for currency, orders, lines, units, gross, net in summary.revenue_by_currency:
        revenue.add_row(
            currency,
            f"{orders:,}",
            f"{lines:,}",
            f"{units:,}",
            format_money(gross, currency),
            format_money(net, currency),
        )
    return revenue
