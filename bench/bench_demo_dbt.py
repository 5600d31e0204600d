"""Benchmark the whole demo at scale, then dbt incremental vs full refresh on the resulting warehouse.

    .venv/bin/python bench/bench_demo_dbt.py [--events 1000000] [--growth 0.01]

1. Wall time of `scripts/demo.sh EVENTS` (seed, publish + consume, backfill, load, dbt build, summary) into a
   fresh data directory (goal <= 120 s at 1M events).
2. +growth new events (published live with another seed, consumed, loaded), then `dbt run` incremental
   versus `dbt run --full-refresh` on the same warehouse (goal: incremental / full <= 0.15).
Both wall time (what an operator waits) and dbt's own execution time (run_results.json, parse excluded)
are printed. The demo uses the default queue and the `postgres` database's journal schema (--reset).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARDPIPE = str(ROOT / ".venv" / "bin" / "cardpipe")
DBT = str(ROOT / "dbt" / ".venv" / "bin" / "dbt")


def run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def dbt_elapsed(target: Path) -> float:
    results = json.loads((target / "run_results.json").read_text())
    return float(results["elapsed_time"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--growth", type=float, default=0.01)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/sportscards-bench-demo"))
    args = parser.parse_args()

    shutil.rmtree(args.data_dir, ignore_errors=True)
    duckdb_path = args.data_dir / "warehouse.duckdb"
    env = {
        **os.environ,
        "CARDPIPE_DATA_DIR": str(args.data_dir),
        "BRONZE_DIR": str(args.data_dir / "bronze"),
        "WAREHOUSE_DUCKDB_PATH": str(duckdb_path),
        "DUCKDB_PATH": str(duckdb_path),
        "CARDPIPE_LOG_FORMAT": "json",
    }
    load = os.getloadavg()[0]
    demo_s = run(["bash", "scripts/demo.sh", str(args.events)], env)
    print(
        f"demo EVENTS={args.events:,}: {demo_s:.1f} s wall (goal <= 120 s); load average at start {load:.1f}"
    )

    new_events = int(args.events * args.growth)
    run([CARDPIPE, "publish", "--events", str(new_events), "--seed", "4242"], env)
    run([CARDPIPE, "consume", "--until-idle"], env)
    run([CARDPIPE, "load"], env)
    target = args.data_dir / "dbt-target"
    dbt = [
        DBT,
        "run",
        "--target",
        "local",
        "--profiles-dir",
        ".",
        "--project-dir",
        ".",
        "--target-path",
        str(target),
    ]
    run([*dbt, "--select", "dim_date"], env, cwd=ROOT / "dbt")  # parse once so both runs start warm
    incremental_wall = run(dbt, env, cwd=ROOT / "dbt")
    incremental_exec = dbt_elapsed(target)
    full_wall = run([*dbt, "--full-refresh"], env, cwd=ROOT / "dbt")
    full_exec = dbt_elapsed(target)
    print(
        f"dbt run after +{new_events:,} events: incremental {incremental_wall:.1f} s wall / "
        f"{incremental_exec:.1f} s dbt; full refresh {full_wall:.1f} s wall / {full_exec:.1f} s dbt"
    )
    print(
        f"ratio incremental/full: {incremental_wall / full_wall:.2f} wall, "
        f"{incremental_exec / full_exec:.2f} dbt (goal <= 0.15)"
    )


if __name__ == "__main__":
    main()
