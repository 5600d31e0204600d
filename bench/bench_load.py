"""Benchmark `cardpipe load` (bronze -> DuckDB RAW) against a bare DuckDB read_ndjson CTAS on the same files.

    .venv/bin/python bench/bench_load.py [--events 1000000] [--per-file 5000]

Bronze files are generated once per size (gzip NDJSON in the documented layout, realistic event lines)
and reused. Both contenders run as fresh processes into an empty DuckDB file (start-up included in both).
Goal: load rows/s >= 0.7 x bare rows/s. The machine's load average is printed: shared CPUs make it noisy.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
from cardpipe.bronze.layout import events_key
from cardpipe.bronze.store import LocalStore
from cardpipe.contracts.codec import format_ts

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = ["order_placed", "order_status_changed", "card_created", "batch_completed"]


def payload(event_type: str, i: int) -> dict[str, object]:
    if event_type == "order_placed":
        return {
            "order_id": f"O-{i:09d}", "customer_id": f"C-{i % 50_000:07d}", "channel": "web",
            "currency_code": "USD",
            "lines": [{"line_number": n + 1, "sku": f"SKU-{(i + n) % 4000:05d}", "quantity": 1 + n,
                       "unit_price": f"{(i % 9000) / 100 + n:.2f}"} for n in range(1 + i % 3)],
        }  # fmt: skip
    if event_type == "order_status_changed":
        return {"order_id": f"O-{i:09d}", "status": "shipped", "reason": None}
    if event_type == "card_created":
        return {
            "sku": f"SKU-{i % 4000:05d}", "player_name": "Player Name", "team": "Team", "sport": "baseball",
            "set_name": "Series One", "set_year": 2025, "parallel": "base", "print_run": None,
            "is_rookie": i % 5 == 0, "list_price": {"amount": "12.50", "currency_code": "USD"},
        }  # fmt: skip
    return {"batch_id": f"B-{i}", "sku": f"SKU-{i % 4000:05d}", "facility": "f1", "planned_units": 1000,
            "produced_units": 990, "defective_units": 3}  # fmt: skip


def generate(root: Path, events: int, per_file: int) -> int:
    """Write `events` lines into files of `per_file` lines; returns the number of files."""
    store = LocalStore(root)
    raw = base64.b64encode(os.urandom(180)).decode()  # a realistic envelope size; content is irrelevant here
    files = 0
    for start in range(0, events, per_file):
        event_type = TYPES[files % len(TYPES)]
        hour = T0 + timedelta(hours=files % 240)
        ingested = format_ts(hour + timedelta(minutes=5))
        lines = []
        for i in range(start, min(start + per_file, events)):
            lines.append(orjson.dumps({
                "event_id": str(uuid.UUID(int=i)), "event_type": event_type, "schema_version": 1,
                "occurred_at": format_ts(hour + timedelta(seconds=i % 3600)), "producer": "bench",
                "payload": payload(event_type, i), "raw_b64": raw,
                "ingest": {"source": "live", "ingested_at": ingested, "redelivered": False,
                           "routing_key": event_type},
            }))  # fmt: skip
        data = zlib.compress(b"\n".join(lines) + b"\n", 1, wbits=31)
        store.put(events_key("live", event_type, hour, f"live-bench-{files:06d}"), data)
        files += 1
    return files


LOAD_WORK: list[float] = []  # run_load's own seconds, from the CLI's load.finished log line


def bench_cardpipe_load(bronze: Path, db: Path) -> tuple[float, int]:
    """Time the CLI; also prints how much of it was the load itself (from its load.finished log line)."""
    env = os.environ | {
        "BRONZE_BACKEND": "local", "BRONZE_DIR": str(bronze), "WAREHOUSE_KIND": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(db), "CARDPIPE_LOG_FORMAT": "json",
    }  # fmt: skip
    cardpipe = Path(sys.executable).with_name("cardpipe")
    started = time.perf_counter()
    proc = subprocess.run([cardpipe, "load"], env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    finished = [orjson.loads(x) for x in proc.stderr.splitlines() if '"load.finished"' in x]
    if finished:
        work = float(finished[-1]["seconds"])
        LOAD_WORK.append(work)
        print(f"{'':>24}  (run_load {work:.2f}s + process start-up/exit {seconds - work:.2f}s)")
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT count(*) FROM raw.events").fetchone()
    return seconds, int(rows[0]) if rows else 0


BARE = """
import sys, duckdb
with duckdb.connect(sys.argv[1]) as conn:
    conn.execute("SET enable_progress_bar = false")
    conn.execute(f"CREATE TABLE t AS SELECT * FROM read_ndjson('{sys.argv[2]}')")
"""


def bench_bare(bronze: Path, db: Path) -> tuple[float, int]:
    """The baseline, like `cardpipe load`, is a fresh process, so both pay interpreter start-up."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE, str(db), f"{bronze}/raw/events/**/*.ndjson.gz"], check=True)
    seconds = time.perf_counter() - started
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT count(*) FROM t").fetchone()
    return seconds, int(rows[0]) if rows else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=5000, help="lines per file (a full live batch)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / ".data" / "bench-load")
    args = parser.parse_args()

    bronze = args.work_dir / f"bronze-{args.events}-{args.per_file}"
    if not (bronze / ".complete").exists():
        shutil.rmtree(bronze, ignore_errors=True)
        started = time.perf_counter()
        files = generate(bronze, args.events, args.per_file)
        (bronze / ".complete").write_text(str(files))
        print(f"generated {args.events:,} events in {files} files in {time.perf_counter() - started:.1f}s")
    size = sum(p.stat().st_size for p in bronze.rglob("*.ndjson.gz"))
    files = sum(1 for _ in bronze.rglob("*.ndjson.gz"))
    print(f"bronze: {files} files, {size / 1e6:.1f} MB gzip, {args.events:,} events")

    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results = {}
    for name, fn in (("bare read_ndjson CTAS", bench_bare), ("cardpipe load", bench_cardpipe_load)):
        db = args.work_dir / f"{name.split()[0]}.duckdb"
        for leftover in (db, db.with_suffix(".duckdb.wal")):
            leftover.unlink(missing_ok=True)
        seconds, rows = fn(bronze, db)
        assert rows == args.events, f"{name} loaded {rows} rows, expected {args.events}"
        results[name] = rows / seconds
        print(f"{name:>24}: {rows:,} rows in {seconds:.2f}s = {rows / seconds:,.0f} rows/s")
        db.unlink(missing_ok=True)
    ratio = results["cardpipe load"] / results["bare read_ndjson CTAS"]
    print(f"ratio cardpipe/bare: {ratio:.2f} (goal >= 0.70) -> {'OK' if ratio >= 0.7 else 'BELOW GOAL'}")
    if LOAD_WORK:
        inner = args.events / LOAD_WORK[-1] / results["bare read_ndjson CTAS"]
        print(f"ratio run_load (no CLI start-up) / bare process: {inner:.2f}")


if __name__ == "__main__":
    main()
