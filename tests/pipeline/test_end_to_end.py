"""The whole pipeline against the real servers, checked against an independent Python oracle.

journal + RabbitMQ (with duplicates, late arrivals and malformed events) -> backfill + consume -> bronze ->
load -> DuckDB RAW -> `dbt build` -> marts. The marts must equal `cardpipe.generator.oracle`, computed in
plain Python from the same generated bodies: revenue to the cent (exactly, in fact), units, statuses,
defect rates, SCD2 versions. Then: re-running load and dbt changes nothing, and an incremental run after
new (partly redelivered) events equals a full refresh.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pika
import psycopg2
import pytest
from cardpipe.config import PostgresSettings, RabbitSettings
from cardpipe.generator import Rates, generate
from cardpipe.generator.oracle import Expected, compute

ROOT = Path(__file__).resolve().parents[2]
CARDPIPE = ROOT / ".venv" / "bin" / "cardpipe"
DBT = ROOT / "dbt" / ".venv" / "bin" / "dbt"
SEED = 7
HISTORY, LIVE_FIRST, LIVE_SECOND = 3000, 600, 400
SECOND_SEED = SEED + 1  # a later day of live traffic: new events (and new SKUs) from another seed
RATES = Rates(duplicate=0.05, late=0.05, malformed=0.02)
MARTS = ("dim_card", "dim_customer", "fct_orders", "fct_batch_performance", "fct_daily_demand")
SIX = Decimal("0.000001")

pytestmark = pytest.mark.skipif(not DBT.exists(), reason="dbt venv missing: run `make dbt-setup` first")


@dataclass
class Pipeline:
    env: dict[str, str]
    duckdb_path: Path
    target_path: Path

    def cardpipe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([str(CARDPIPE), *args], cwd=ROOT)

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(
            [
                str(DBT),
                *args,
                "--target",
                "local",
                "--profiles-dir",
                ".",
                "--project-dir",
                ".",
                "--target-path",
                str(self.target_path),
            ],
            cwd=ROOT / "dbt",
        )

    def _run(self, cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            cmd, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=900, check=False
        )
        assert result.returncode == 0, f"{cmd[:3]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        return result

    def query(self, sql: str) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(self.duckdb_path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def marts_snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        return {
            m: sorted(map(repr, self.query(f"SELECT * EXCLUDE (last_loaded_at) FROM marts.{m}")))
            if m == "fct_orders"
            else sorted(map(repr, self.query(f"SELECT * FROM marts.{m}")))
            for m in MARTS
        }  # type: ignore[misc]


def _bodies(stream: str, events: int, seed: int = SEED) -> list[bytes]:
    return [e.body for e in generate(stream, events, seed=seed, rates=RATES)]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    tmp = tmp_path_factory.mktemp("e2e")
    db = f"test_e2e_{uuid.uuid4().hex[:10]}"
    tag = f"test.e2e.{uuid.uuid4().hex[:8]}"
    rabbit = RabbitSettings(
        exchange=f"{tag}.x",
        queue=f"{tag}.q",
        dead_letter_exchange=f"{tag}.dlx",
        dead_letter_queue=f"{tag}.dlq",
    )
    admin = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    pg = PostgresSettings(dsn=f"postgresql://postgres@127.0.0.1:5432/{db}")
    duckdb_path = tmp / "warehouse.duckdb"
    env = {
        **os.environ,
        "RABBITMQ_URL": rabbit.url,
        "RABBITMQ_EXCHANGE": rabbit.exchange,
        "RABBITMQ_QUEUE": rabbit.queue,
        "RABBITMQ_DEAD_LETTER_EXCHANGE": rabbit.dead_letter_exchange,
        "RABBITMQ_DEAD_LETTER_QUEUE": rabbit.dead_letter_queue,
        "POSTGRES_DSN": pg.dsn,
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(tmp / "bronze"),
        "WAREHOUSE_KIND": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(duckdb_path),
        "DUCKDB_PATH": str(duckdb_path),
        "CARDPIPE_DATA_DIR": str(tmp),
        "CARDPIPE_LOG_FORMAT": "json",
        "DBT_TARGET": "local",
    }
    yield Pipeline(env=env, duckdb_path=duckdb_path, target_path=tmp / "dbt-target")
    connection = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    channel = connection.channel()
    for queue in (rabbit.queue, rabbit.dead_letter_queue):
        channel.queue_delete(queue)
    for exchange in (rabbit.exchange, rabbit.dead_letter_exchange):
        channel.exchange_delete(exchange)
    connection.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


def _seconds(delta: timedelta) -> Decimal:
    """Exact seconds of a timedelta (total_seconds() is a float)."""
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def _rates_args(seed: int = SEED) -> list[str]:
    return [
        "--seed",
        str(seed),
        "--duplicate-rate",
        str(RATES.duplicate),
        "--late-rate",
        str(RATES.late),
        "--malformed-rate",
        str(RATES.malformed),
    ]


def _assert_marts_match(p: Pipeline, expected: Expected) -> None:
    # Orders: exact Decimal sums per currency, no tolerance.
    orders, lines = p.query("SELECT count(DISTINCT order_id), count(*) FROM marts.fct_orders")[0]
    assert (orders, lines) == (expected.orders, expected.lines)
    by_currency = {
        currency: (int(u), Decimal(g), Decimal(n))
        for currency, u, g, n in p.query(
            "SELECT currency_code, sum(quantity), sum(gross_revenue), sum(net_revenue) "
            "FROM marts.fct_orders GROUP BY 1"
        )
    }
    assert by_currency == {c: (s.units, s.gross, s.net) for c, s in expected.by_currency.items()}
    assert len(by_currency) > 1  # the generator's customers pay in several currencies
    by_status = dict(
        p.query("SELECT order_status, count(DISTINCT order_id) FROM marts.fct_orders GROUP BY 1")
    )
    assert by_status == dict(expected.orders_by_status)

    by_sku = {
        (sku, c): (int(u), Decimal(g), Decimal(n))
        for sku, c, u, g, n in p.query(
            "SELECT sku, currency_code, sum(quantity), sum(gross_revenue), sum(net_revenue) "
            "FROM marts.fct_orders GROUP BY 1, 2"
        )
    }
    assert by_sku == {k: (s.units, s.gross, s.net) for k, s in expected.by_sku.items()}

    by_player = {
        (player or "unknown", c): (int(u), Decimal(g), Decimal(n))
        for player, c, u, g, n in p.query(
            "SELECT player_name, currency_code, sum(units_ordered), sum(gross_revenue), sum(net_revenue) "
            "FROM marts.fct_daily_demand GROUP BY 1, 2"
        )
    }
    assert by_player == {k: (s.units, s.gross, s.net) for k, s in expected.by_player.items()}
    by_team = {
        (team or "unknown", c): (Decimal(g), Decimal(n))
        for team, c, g, n in p.query(
            "SELECT team, currency_code, sum(gross_revenue), sum(net_revenue) FROM marts.fct_daily_demand "
            "GROUP BY 1, 2"
        )
    }
    assert by_team == {k: (s.gross, s.net) for k, s in expected.by_team.items()}

    # Manufacturing: per batch, and the facility defect rate.
    batches = {
        row[0]: row[1:]
        for row in p.query(
            "SELECT batch_id, facility, planned_units, produced_units, defective_units, defect_rate, "
            "cycle_time_seconds FROM marts.fct_batch_performance"
        )
    }
    assert set(batches) == set(expected.batches)
    for batch_id, batch in expected.batches.items():
        facility, planned, produced, defective, rate, cycle = batches[batch_id]
        assert (facility, planned, produced, defective) == (
            batch.facility,
            batch.planned,
            batch.produced,
            batch.defective,
        ), batch_id
        expected_rate = None if batch.defect_rate is None else batch.defect_rate.quantize(SIX)
        assert (None if rate is None else Decimal(rate).quantize(SIX)) == expected_rate, batch_id
        expected_cycle = None if batch.cycle_time is None else _seconds(batch.cycle_time)
        assert (None if cycle is None else Decimal(cycle)) == expected_cycle, batch_id
    facility_rates = {
        f: (None if r is None else Decimal(r).quantize(SIX))
        for f, r in p.query(
            "SELECT facility, sum(defective_units)::DECIMAL(38, 12) / nullif(sum(produced_units), 0) "
            "FROM marts.fct_batch_performance WHERE is_completed GROUP BY 1"
        )
    }
    assert facility_rates == {
        f: (None if r is None else r.quantize(SIX)) for f, r in expected.facility_defect_rate.items()
    }

    # Catalog: SKUs and SCD2 versions; an ordered SKU with no catalog event is one inferred member.
    skus, versions, current = p.query(
        "SELECT count(DISTINCT sku), count(*), count(*) FILTER (WHERE is_current) FROM marts.dim_card "
        "WHERE NOT is_inferred"
    )[0]
    assert (skus, versions, current) == (expected.skus, expected.card_versions, expected.skus)
    inferred = {sku for (sku,) in p.query("SELECT sku FROM marts.dim_card WHERE is_inferred")}
    assert inferred == {sku for sku, _ in expected.by_sku} - set(expected.versions)

    # Layers: every accepted event reached RAW (duplicates kept there), every rejected one is in quarantine.
    distinct_raw = p.query("SELECT count(DISTINCT event_id) FROM raw.events")[0][0]
    assert distinct_raw == expected.events
    assert p.query("SELECT count(*) FROM raw.quarantine")[0][0] == expected.rejected


def test_pipeline_end_to_end(pipeline: Pipeline) -> None:
    p = pipeline
    p.cardpipe("seed-journal", "--events", str(HISTORY), *_rates_args())
    p.cardpipe("publish", "--events", str(LIVE_FIRST), *_rates_args())
    p.cardpipe("consume", "--until-idle")
    p.cardpipe("backfill")
    p.cardpipe("load")
    p.dbt("build")

    expected = compute(_bodies("history", HISTORY) + _bodies("live", LIVE_FIRST))
    assert expected.duplicates > 0 and expected.rejected > 0  # the input really had the hard cases
    _assert_marts_match(p, expected)
    first = p.marts_snapshot()

    # Re-running load and dbt changes nothing.
    audit_before = p.query("SELECT count(*), sum(rows) FROM raw.load_audit")
    p.cardpipe("load")
    assert p.query("SELECT count(*), sum(rows) FROM raw.load_audit") == audit_before
    p.dbt("build")
    assert p.marts_snapshot() == first

    # The same live events redelivered (same ids and bytes) plus new ones, incremental run, full refresh.
    p.cardpipe("publish", "--events", str(LIVE_FIRST), *_rates_args())
    p.cardpipe("publish", "--events", str(LIVE_SECOND), *_rates_args(SECOND_SEED))
    p.cardpipe("consume", "--until-idle")
    p.cardpipe("load")
    p.dbt("build")
    expected = compute(
        _bodies("history", HISTORY)
        + _bodies("live", LIVE_FIRST) * 2
        + _bodies("live", LIVE_SECOND, seed=SECOND_SEED)
    )
    _assert_marts_match(p, expected)
    incremental = p.marts_snapshot()
    p.dbt("build", "--full-refresh")
    assert p.marts_snapshot() == incremental
