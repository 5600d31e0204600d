"""Build the RAW schema of docs/bronze-and-raw.md in a DuckDB file from real encoded events.

Rows go through the same path as production (encode_event -> decode -> to_record), so the dbt models are
tested on exactly the payload views the loader writes. The DDL is the loader's own migration file.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from cardpipe.contracts import names, raw_tables
from cardpipe.contracts.codec import DecodedEvent, decode, encode_event
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

ROOT = Path(__file__).resolve().parents[2]
# The loader's migrations, in order (the same RAW tables `cardpipe load` creates).
RAW_DDL = sorted((ROOT / "pipeline/src/cardpipe/load/sql/duckdb").glob("V*.sql"))

SPORTS = {"baseball": catalog_pb2.SPORT_BASEBALL, "basketball": catalog_pb2.SPORT_BASKETBALL}
CHANNELS = {
    "web": orders_pb2.SALES_CHANNEL_WEB,
    "mobile_app": orders_pb2.SALES_CHANNEL_MOBILE_APP,
    "marketplace": orders_pb2.SALES_CHANNEL_MARKETPLACE,
    "retail": orders_pb2.SALES_CHANNEL_RETAIL,
}
STATUSES = {
    "paid": orders_pb2.ORDER_STATUS_PAID,
    "shipped": orders_pb2.ORDER_STATUS_SHIPPED,
    "delivered": orders_pb2.ORDER_STATUS_DELIVERED,
    "cancelled": orders_pb2.ORDER_STATUS_CANCELLED,
    "refunded": orders_pb2.ORDER_STATUS_REFUNDED,
}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def money(amount: str, currency: str = "USD") -> Money:
    value = Decimal(amount)
    units = int(value)
    nanos = int((value - units) * 1_000_000_000)
    return Money(currency_code=currency, units=units, nanos=nanos)


def card(
    sku: str, player: str, team: str, price: str, *, sport: str = "baseball", rookie: bool = False
) -> Any:
    return catalog_pb2.Card(
        sku=sku,
        player_name=player,
        team=team,
        sport=SPORTS[sport],
        set_name="Topps Chrome",
        set_year=2024,
        parallel="base",
        is_rookie=rookie,
        list_price=money(price),
    )


def snowflake_ddl(table: raw_tables.RawTable) -> str:
    return table.declared_snowflake_ddl()


def _snowflake_value(column: raw_tables.Column) -> str:
    if column.snowflake_type == "VARIANT":
        return "PARSE_JSON(%s)"
    if column.snowflake_type.startswith("TIMESTAMP"):
        return f"%s::{column.snowflake_type}"
    return "%s"


def _default_loaded_at() -> datetime:
    """A recent load time that leaves room for the scenarios' `advance` (hours) before UTC midnight.

    Days are by loaded_at (UTC) in the volume-anomaly test: a fixture created at 23:30 whose second load
    lands at 00:30 makes a tiny "newest day" and fails that test for the clock, not for the data."""
    now = datetime.now(UTC)
    return max(now.replace(hour=0, minute=0, second=0, microsecond=0), now - timedelta(hours=3))


@dataclass
class RawWriter:
    """Appends RAW rows; `loaded_at` models one `cardpipe load` run (set it per batch).

    Writes to the DuckDB file `path` (the loader's own DDL), or, given `snowflake` (a connector connection,
    e.g. to a fakesnow server), to Snowflake RAW as the infrastructure creates it: the same rows either
    way."""

    path: Path
    loaded_at: datetime = field(default_factory=_default_loaded_at)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    snowflake: Any = None

    def create_schema(self) -> None:
        if self.snowflake is not None:
            cur = self.snowflake.cursor()
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {names.RAW_SCHEMA}")
            for table in raw_tables.TABLES:
                cur.execute(snowflake_ddl(table))
            return
        with duckdb.connect(str(self.path)) as con:
            for migration in RAW_DDL:
                con.execute(migration.read_text())

    def event(
        self,
        event_type: str,
        message: Any,
        occurred_at: datetime,
        *,
        event_id: str | None = None,
        source: str = "live",
        window_id: str = "all",
        copies: int = 1,
    ) -> str:
        event_id = event_id or str(uuid.uuid4())
        body = encode_event(
            event_id=event_id, event_type=event_type, occurred_at=occurred_at, payload=message
        )
        decoded = decode(body)
        assert isinstance(decoded, DecodedEvent), decoded
        record = decoded.to_record()
        hour = occurred_at.strftime("dt=%Y-%m-%d/hour=%H")
        name = f"backfill-{window_id}-000001" if source == "backfill" else f"live-{uuid.uuid4().hex[:8]}-c1-1"
        file_name = f"raw/events/source={source}/event_type={event_type}/{hour}/{name}.ndjson.gz"
        for _ in range(copies):
            self.rows.append(
                (
                    "events",
                    record["event_id"],
                    record["event_type"],
                    record["schema_version"],
                    record["occurred_at"],
                    record["producer"],
                    json.dumps(record["payload"]),
                    source,
                    self.loaded_at,
                    base64.b64encode(body).decode(),
                    file_name,
                    self.loaded_at,
                )
            )
        return event_id

    def quarantine(
        self, reason: str, event_type: str | None, *, source: str = "live", window_id: str = "all"
    ) -> None:
        ingest = {"source": source, "ingested_at": self.loaded_at.isoformat()}
        if source == "backfill":
            ingest["window_id"] = window_id
        self.rows.append(
            (
                "quarantine",
                reason,
                "test row",
                None,
                event_type,
                source,
                self.loaded_at,
                base64.b64encode(b"\x00bad").decode(),
                json.dumps(ingest),
                f"raw/quarantine/source={source}/reason={reason}/q.ndjson.gz",
                self.loaded_at,
            )
        )

    def journal_count(self, window_id: str, event_type: str | None, rows: int) -> None:
        self.rows.append(
            (
                "journal_counts",
                window_id,
                None,
                None,
                event_type,
                rows,
                rows,
                self.loaded_at,
                f"raw/_control/journal_counts/{window_id}.ndjson.gz",
                self.loaded_at,
            )
        )

    def _audit_rows(self) -> list[tuple[Any, ...]]:
        """The load_audit rows the loader commits with the pending rows: one per file (replacing any earlier
        row of that name), so the staging ledger (stg_raw__loaded_files) sees the files as loaded."""
        files: dict[str, tuple[str, int, datetime]] = {}
        for row in self.rows:
            kind, file_name, loaded_at = row[0], row[-2], row[-1]
            _, count, _ = files.get(file_name, (kind, 0, loaded_at))
            files[file_name] = (kind, count + 1, loaded_at)
        return [
            ("load_audit", name, kind, count, f"sha256:fixture-{name}", loaded_at, None)
            for name, (kind, count, loaded_at) in files.items()
        ]

    def flush(self) -> None:
        """Write the pending rows and their audit rows in one transaction, as one load run would."""
        audits = self._audit_rows()
        self.rows.extend(audits)
        if self.snowflake is not None:
            cur = self.snowflake.cursor()
            for audit in audits:
                cur.execute(f"DELETE FROM {raw_tables.LOAD_AUDIT.qualified} WHERE FILE_NAME = %s", [audit[1]])
            self._flush_snowflake()
            return
        with duckdb.connect(str(self.path)) as con:
            con.execute("begin")
            con.executemany("delete from raw.load_audit where file_name = ?", [[a[1]] for a in audits])
            for row in self.rows:
                table, values = row[0], row[1:]
                marks = ", ".join("?" * len(values))
                con.execute(f"insert into raw.{table} values ({marks})", list(values))
            con.execute("commit")
        self.rows.clear()

    def _flush_snowflake(self) -> None:
        tables = {t.name.lower(): t for t in raw_tables.TABLES}
        cur = self.snowflake.cursor()
        cur.execute("BEGIN")
        for row in self.rows:
            table, values = tables[row[0]], row[1:]
            exprs = ", ".join(_snowflake_value(c) for c in table.columns)
            params = [v.isoformat() if isinstance(v, datetime) else v for v in values]
            cur.execute(f"INSERT INTO {table.qualified} SELECT {exprs}", params)
        cur.execute("COMMIT")
        self.rows.clear()

    def advance(self, delta: timedelta) -> None:
        self.loaded_at += delta


# ----------------------------------------------------------------------------- message builders


def card_created(c: Any) -> Any:
    return catalog_pb2.CardCreated(card=c)


def card_updated(c: Any) -> Any:
    return catalog_pb2.CardUpdated(card=c)


def order_placed(order_id: str, customer_id: str, channel: str, lines: list[tuple[str, int, str]]) -> Any:
    return orders_pb2.OrderPlaced(
        order_id=order_id,
        customer_id=customer_id,
        channel=CHANNELS[channel],
        currency_code="USD",
        lines=[
            orders_pb2.OrderLine(line_number=i + 1, sku=sku, quantity=qty, unit_price=money(price))
            for i, (sku, qty, price) in enumerate(lines)
        ],
    )


def status_changed(order_id: str, status: str, reason: str = "") -> Any:
    return orders_pb2.OrderStatusChanged(order_id=order_id, status=STATUSES[status], reason=reason)


def batch_started(batch_id: str, sku: str, planned: int) -> Any:
    return manufacturing_pb2.BatchStarted(
        batch_id=batch_id, sku=sku, facility="plant-1", planned_units=planned
    )


def batch_completed(batch_id: str, sku: str, planned: int, produced: int, defective: int) -> Any:
    return manufacturing_pb2.BatchCompleted(
        batch_id=batch_id,
        sku=sku,
        facility="plant-1",
        planned_units=planned,
        produced_units=produced,
        defective_units=defective,
    )
