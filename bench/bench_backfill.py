"""Benchmark: `cardpipe backfill` of N journal rows vs `psql \\copy (select ...) to /dev/null` of them.

Seeds a private database fast (a pool of encoded envelopes without event_id is multiplied server-side,
each row getting a fresh UUID spliced in as protobuf field 1), times both readers, prints rows/s and
the ratio (goal >= 0.5), and drops the database. `--repeat N` times psql and every `--workers` value N
times, side by side, and prints the median ratio of each (the machine is shared: only ratios measured
together mean anything). `make bench-ingest` or
`.venv/bin/python bench/bench_backfill.py --rows 1000000 --workers 2 3 --repeat 3`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from cardpipe.contracts.codec import encode_event
from cardpipe.sources.journal import ensure_schema
from google.protobuf.message import Message
from psycopg2.extras import execute_values
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOURS = 168  # the journal spans a week, in seq order, like a real one
TYPES = 6
POOL = HOURS * TYPES
T0 = datetime(2026, 3, 1, tzinfo=UTC)
COLUMNS = "seq, event_id, event_type, occurred_at, producer, recorded_at, body"


def payload(i: int) -> tuple[str, Message]:
    money = Money(currency_code="USD", units=10 + i % 90, nanos=(i % 100) * 10_000_000)
    card = catalog_pb2.Card(
        sku=f"SKU-{i % 250:05d}",
        player_name=f"Player {i % 97}",
        team=f"Team {i % 30}",
        sport=1 + i % 5,
        set_name="Prizm",
        set_year=2015 + i % 10,
        parallel="silver" if i % 3 else "base",
        is_rookie=i % 7 == 0,
        list_price=money,
    )
    if i % 5 == 4:
        card.print_run = 99
    kind = i % 6
    if kind == 0:
        return "card_created", catalog_pb2.CardCreated(card=card)
    if kind == 1:
        return "card_updated", catalog_pb2.CardUpdated(card=card)
    if kind == 2:
        lines = [
            orders_pb2.OrderLine(
                line_number=n + 1, sku=f"SKU-{(i + n) % 250:05d}", quantity=1 + n, unit_price=money
            )
            for n in range(1 + i % 3)
        ]
        return "order_placed", orders_pb2.OrderPlaced(
            order_id=f"ord-{i}",
            customer_id=f"cus-{i % 500}",
            channel=1 + i % 4,
            currency_code="USD",
            lines=lines,
        )
    if kind == 3:
        return "order_status_changed", orders_pb2.OrderStatusChanged(order_id=f"ord-{i}", status=1 + i % 5)
    if kind == 4:
        return "batch_started", manufacturing_pb2.BatchStarted(
            batch_id=f"bat-{i}", sku=f"SKU-{i % 250:05d}", facility="plant-1", planned_units=500
        )
    return "batch_completed", manufacturing_pb2.BatchCompleted(
        batch_id=f"bat-{i}",
        sku=f"SKU-{i % 250:05d}",
        facility="plant-1",
        planned_units=500,
        produced_units=480,
        defective_units=3,
    )


def seed(dsn: str, rows: int) -> None:
    pool = []
    for i in range(POOL):
        event_type, message = payload(i)
        occurred_at = T0 + timedelta(hours=i // TYPES, minutes=i % 60)
        # event_id left empty (proto3 omits it): each row prepends its own field 1 below.
        rest = encode_event(event_id="", event_type=event_type, occurred_at=occurred_at, payload=message)
        if i % 1000 == 999:
            rest = b"\xff\xfenot an envelope"  # ~0.1% malformed rows, quarantined
        pool.append((i, event_type, occurred_at, "bench", rest))
    conn = psycopg2.connect(dsn)
    ensure_schema(conn, "journal")
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE pool "
            "(id int, event_type text, occurred_at timestamptz, producer text, rest bytea)"
        )
        execute_values(cur, "INSERT INTO pool VALUES %s", pool)
        cur.execute(
            "INSERT INTO journal.events (event_id, event_type, occurred_at, producer, body) "
            "SELECT s.u::text, p.event_type, p.occurred_at, p.producer, "
            "       '\\x0a24'::bytea || convert_to(s.u::text, 'UTF8') || p.rest "
            "FROM (SELECT g, gen_random_uuid() AS u FROM generate_series(0, %s - 1) AS g) AS s "
            "JOIN pool AS p ON p.id = (s.g::bigint * %s / %s) * %s + s.g %% %s ORDER BY s.g",
            (rows, HOURS, rows, TYPES, TYPES),
        )
    with conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE journal.events")
    conn.close()


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of a command; its log lines are only shown when it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        cmd, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{cmd[0]} failed with exit code {done.returncode}")
    return seconds


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure_once(
    dsn: str, rows: int, worker_counts: list[int], ratios: dict[int, list[float]], run: int
) -> None:
    """psql, then cardpipe backfill with each worker count, into a fresh bronze directory each."""
    psql = [
        "psql",
        "-X",
        "-q",
        "-d",
        dsn,
        "-c",
        f"\\copy (select {COLUMNS} from journal.events) to /dev/null",
    ]
    psql_s = timed(psql)
    psql_rate = rows / psql_s
    print(f"run {run}: psql \\copy to /dev/null: {psql_s:7.2f}s  {psql_rate:10,.0f} rows/s", flush=True)
    cardpipe = str(Path(sys.executable).with_name("cardpipe"))
    for workers in worker_counts:
        with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
            env = {
                **os.environ,
                "POSTGRES_DSN": dsn,
                "BRONZE_BACKEND": "local",
                "BRONZE_DIR": str(Path(tmp) / "bronze"),
                "CARDPIPE_LOG_FORMAT": "json",
            }
            backfill_s = timed([cardpipe, "backfill", "--workers", str(workers)], env)
            objects = sum(1 for _ in (Path(tmp) / "bronze").rglob("*.ndjson.gz"))
        rate = rows / backfill_s
        ratios[workers].append(rate / psql_rate)
        print(
            f"run {run}: cardpipe backfill --workers {workers}: {backfill_s:7.2f}s  {rate:10,.0f} rows/s  "
            f"({objects} objects)  ratio {rate / psql_rate:.3f} (goal >= 0.5); load average {load()}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[2], help="cardpipe backfill --workers values"
    )
    parser.add_argument("--repeat", type=int, default=1, help="side-by-side runs; prints median ratios")
    args = parser.parse_args()

    name = f"bench_backfill_{uuid.uuid4().hex[:8]}"
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        started = time.perf_counter()
        seed(dsn, args.rows)
        print(f"seeded {args.rows} journal rows in {time.perf_counter() - started:.1f}s")

        ratios: dict[int, list[float]] = {w: [] for w in args.workers}
        for run in range(1, args.repeat + 1):
            measure_once(dsn, args.rows, args.workers, ratios, run)
        if args.repeat > 1:
            for workers, values in ratios.items():
                median = statistics.median(values)
                print(
                    f"median ratio --workers {workers} of {len(values)} runs: {median:.3f} "
                    f"({', '.join(f'{v:.3f}' for v in values)}; goal >= 0.5); load average {load()}"
                )
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
