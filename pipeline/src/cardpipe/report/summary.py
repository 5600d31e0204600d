"""Counts at every layer, the reconciliation verdict and a few business figures, from one DuckDB file.

Pure queries: nothing here writes. Each figure is read from the layer it describes, so a gap between two
layers shows up as two different numbers rather than being hidden by a shared computation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from cardpipe.bronze.layout import EVENTS_PREFIX, QUARANTINE_PREFIX
from cardpipe.bronze.store import BronzeStore
from cardpipe.config import PostgresSettings
from cardpipe.sources.journal import connect, events_table

STAGING_MODELS = (
    "stg_events__card_created",
    "stg_events__card_updated",
    "stg_events__order_placed",
    "stg_events__order_lines",
    "stg_events__order_status_changed",
    "stg_events__batch_started",
    "stg_events__batch_completed",
)
MART_MODELS = (
    "dim_card",
    "dim_customer",
    "dim_date",
    "fct_orders",
    "fct_batch_performance",
    "fct_daily_demand",
)


@dataclass
class Summary:
    layers: list[tuple[str, str, int | None]] = field(default_factory=list)  # (layer, what, count)
    quarantine_by_reason: list[tuple[str, str, int]] = field(default_factory=list)
    reconciliation_windows: int = 0
    totals: dict[str, Any] = field(default_factory=dict)
    # (currency, orders, lines, units, gross, net): money is never added across currencies
    revenue_by_currency: list[tuple[str, int, int, int, Decimal, Decimal]] = field(default_factory=list)
    top_skus: list[tuple[Any, ...]] = field(default_factory=list)
    top_players: list[tuple[Any, ...]] = field(default_factory=list)
    defect_by_facility: list[tuple[Any, ...]] = field(default_factory=list)


def journal_rows(settings: PostgresSettings) -> int | None:
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (f"{settings.journal_schema}.events",))
            row = cur.fetchone()
            if row is None or row[0] is None:
                return None
            cur.execute(
                b"SELECT count(*) FROM " + events_table(settings.journal_schema).as_string(conn).encode()
            )
            result = cur.fetchone()
            return int(result[0]) if result else 0
    finally:
        conn.close()


def bronze_objects(store: BronzeStore) -> tuple[int, int]:
    return sum(1 for _ in store.list(EVENTS_PREFIX)), sum(1 for _ in store.list(QUARANTINE_PREFIX))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        _scalar(
            con,
            f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}' "
            f"AND table_name = '{table}'",
        )
    )


def warehouse_summary(duckdb_path: Path, summary: Summary) -> None:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        _layer_counts(con, summary)
        _reconciliation(con, summary)
        _business(con, summary)
    finally:
        con.close()


def _layer_counts(con: duckdb.DuckDBPyConnection, summary: Summary) -> None:
    add = summary.layers.append
    if _exists(con, "raw", "load_audit"):
        for kind, files, rows in con.execute(
            "SELECT kind, count(*), sum(rows) FROM raw.load_audit GROUP BY kind ORDER BY kind"
        ).fetchall():
            add(("raw", f"loaded files ({kind}): {files}, lines", int(rows or 0)))
    if _exists(con, "raw", "events"):
        add(("raw", "raw.events rows (duplicates kept)", _scalar(con, "SELECT count(*) FROM raw.events")))
        add(
            (
                "raw",
                "raw.events distinct event_id",
                _scalar(con, "SELECT count(DISTINCT event_id) FROM raw.events"),
            )
        )
    if _exists(con, "raw", "quarantine"):
        add(("raw", "raw.quarantine rows", _scalar(con, "SELECT count(*) FROM raw.quarantine")))
        summary.quarantine_by_reason = [
            (str(src), str(reason), int(n))
            for src, reason, n in con.execute(
                "SELECT source, reason, count(*) FROM raw.quarantine GROUP BY ALL ORDER BY 1, 2"
            ).fetchall()
        ]
    for schema, models in (("staging", STAGING_MODELS), ("marts", MART_MODELS)):
        for model in models:
            if _exists(con, schema, model):
                add((schema, model, _scalar(con, f"SELECT count(*) FROM {schema}.{model}")))


def _reconciliation(con: duckdb.DuckDBPyConnection, summary: Summary) -> None:
    """Totals only: the per-window, per-type rule is the dbt test `backfill_reconciliation`."""
    if not (_exists(con, "raw", "journal_counts") and _exists(con, "raw", "events")):
        return
    summary.reconciliation_windows = int(
        _scalar(con, "SELECT count(DISTINCT window_id) FROM raw.journal_counts")
    )
    journal = _scalar(
        con,
        "SELECT coalesce(sum(j.journal_rows), 0) FROM raw.journal_counts j "
        "JOIN (SELECT window_id, max(loaded_at) AS loaded_at FROM raw.journal_counts GROUP BY window_id) l "
        "USING (window_id, loaded_at)",
    )
    landed = _scalar(con, "SELECT count(*) FROM raw.events WHERE source = 'backfill'") + _scalar(
        con, "SELECT count(*) FROM raw.quarantine WHERE source = 'backfill'"
    )
    summary.totals["journal rows in backfilled windows"] = int(journal)
    summary.totals["backfilled rows in RAW (events + quarantine)"] = int(landed)


def dbt_verdicts(run_results: Path) -> list[tuple[str, str]]:
    """Status of the data-quality tests in the last dbt invocation (dbt/target/run_results.json)."""
    if not run_results.is_file():
        return []
    data = json.loads(run_results.read_text())
    verdicts = []
    for result in data.get("results", []):
        unique_id = str(result.get("unique_id", ""))
        if unique_id.startswith("test.") and any(
            key in unique_id for key in ("reconciliation", "volume_anomaly", "raw_events_fresh")
        ):
            verdicts.append((unique_id.split(".")[2], str(result.get("status"))))
    return sorted(verdicts)


def format_money(amount: Decimal | None, currency: str) -> str:
    """For people: the currency code and two decimals (half-even). The marts keep the exact nine places."""
    if amount is None:
        return "-"
    return f"{currency} {amount.quantize(Decimal('0.01')):,}"


def _business(con: duckdb.DuckDBPyConnection, summary: Summary) -> None:
    if _exists(con, "marts", "fct_orders"):
        row = con.execute(
            "SELECT count(DISTINCT order_id), count(*), sum(quantity) FROM marts.fct_orders"
        ).fetchone()
        if row:
            summary.totals |= {"orders": row[0], "order lines": row[1], "units": int(row[2] or 0)}
        summary.revenue_by_currency = [
            (str(c), int(o), int(n), int(u), Decimal(g), Decimal(net))
            for c, o, n, u, g, net in con.execute(
                "SELECT currency_code, count(DISTINCT order_id), count(*), sum(quantity), "
                "sum(gross_revenue), sum(net_revenue) "
                "FROM marts.fct_orders GROUP BY currency_code ORDER BY currency_code"
            ).fetchall()
        ]
        summary.top_skus = [
            (sku, units, format_money(Decimal(net), currency))
            for sku, currency, units, net in con.execute(
                "SELECT sku, currency_code, sum(quantity) AS units, sum(net_revenue) AS net "
                "FROM marts.fct_orders GROUP BY sku, currency_code "
                "QUALIFY row_number() OVER (PARTITION BY currency_code ORDER BY net DESC, sku) <= 3 "
                "ORDER BY currency_code, net DESC, sku"
            ).fetchall()
        ]
    if _exists(con, "marts", "fct_daily_demand"):
        summary.top_players = [
            (player, team, units, format_money(Decimal(net), currency))
            for player, team, currency, units, net in con.execute(
                "SELECT player_name, team, currency_code, sum(units_net) AS units, sum(net_revenue) AS net "
                "FROM marts.fct_daily_demand GROUP BY player_name, team, currency_code "
                "QUALIFY row_number() OVER (PARTITION BY currency_code ORDER BY net DESC, player_name) <= 3 "
                "ORDER BY currency_code, net DESC, player_name"
            ).fetchall()
        ]
    if _exists(con, "marts", "fct_batch_performance"):
        summary.defect_by_facility = con.execute(
            "SELECT facility, count(*) AS batches, sum(produced_units) AS produced, "
            "sum(defective_units) AS defective, "
            "round(sum(defective_units)::DECIMAL(38, 9) / nullif(sum(produced_units), 0), 4) AS defect_rate "
            "FROM marts.fct_batch_performance WHERE is_completed GROUP BY facility ORDER BY facility"
        ).fetchall()
