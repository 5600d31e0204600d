"""What a dashboard page is made of: headline tiles, charts and tables, each fed by one SQL file in
dashboards/queries/<page>/<name>.sql. Pages are data, so a reviewer reads them like a dashboard definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How a column is displayed. Money always carries the row's currency_code; exact values stay in the marts.
Format = Literal["int", "money", "rate", "decimal", "text", "date", "timestamp"]

FORMATS: dict[str, Format] = {
    "net_revenue": "money",
    "gross_revenue": "money",
    "defect_rate": "rate",
    "repeat_rate": "rate",
    "rolling_avg_7d": "decimal",
    "order_date": "date",
    "status_date": "date",
    "completed_date": "date",
    "completed_week": "date",
    "event_date": "date",
    "load_date": "date",
    "started_at": "timestamp",
    "last_loaded_at": "timestamp",
    "last_occurred_at": "timestamp",
}
TEXT_COLUMNS = frozenset(
    {
        "sku",
        "player_name",
        "team",
        "sport",
        "parallel",
        "card_kind",
        "channel",
        "first_channel",
        "currency_code",
        "customer_type",
        "order_status",
        "reason",
        "facility",
        "batch_id",
        "window_id",
        "verdict",
        "source",
    }
)
CURRENCY = "currency_code"


def column_format(column: str) -> Format:
    if column in FORMATS:
        return FORMATS[column]
    return "text" if column in TEXT_COLUMNS else "int"


@dataclass(frozen=True)
class Tiles:
    """Headline figures: one tile per (row, column); a money column gives one tile per currency."""

    query: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Chart:
    """A bar or line chart. `series` splits the values (money charts must split by currency_code)."""

    query: str
    title: str
    x: str
    y: tuple[str, ...]
    kind: Literal["bar", "line", "hbar", "histogram"] = "bar"
    series: str | None = None
    stack: bool = False
    # histogram: x is the bucket's lower bound, x_to its upper bound
    x_to: str | None = None


@dataclass(frozen=True)
class Table:
    query: str
    title: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Note:
    """A short paragraph of trusted HTML written here (never data)."""

    html: str


@dataclass(frozen=True)
class DbtTests:
    """The last dbt run's test results (run_results.json), not a query."""


@dataclass(frozen=True)
class Freshness:
    """Age of the newest RAW load against the pipeline's freshness thresholds."""

    query: str


Block = Tiles | Chart | Table | Note | DbtTests | Freshness


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    audience: str
    blocks: tuple[Block, ...]

    @property
    def file_name(self) -> str:
        return f"{self.slug}.html"
