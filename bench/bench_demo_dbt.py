"""Benchmark the whole demo at scale: what a newcomer waits for `make demo EVENTS=n`.

    .venv/bin/python bench/bench_demo_dbt.py [--events 1000000]

Wall time of `scripts/demo.sh EVENTS` (seed, publish + consume, backfill, load, dbt build, summary) into a
fresh data directory (goal <= 120 s at 1M events). dbt's incremental cost is bench/bench_dbt_cost.py's
subject. The demo uses the default queue and the `postgres` database's journal schema (--reset).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
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


if __name__ == "__main__":
    main()
