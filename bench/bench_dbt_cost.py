"""Benchmark what an incremental dbt run costs as history grows: does it follow the delta or the history?

    .venv/bin/python bench/bench_dbt_cost.py [--scales 1000000 10000000] [--growth 0.01] [--workers 2]

For each scale: a fresh warehouse gets SCALE generated events (landed in a local bronze directory through the
same landing code as the consumer, in parts of PART_EVENTS events with their own seeds, then `cardpipe load`),
`dbt run --full-refresh`; then +GROWTH new live events are landed and loaded and timed:
1. `dbt run` incremental (what every scheduled run costs), REPEAT times from the same warehouse file (restored
   from a copy before each run; the median counts: single runs differ by ~20% on a shared 2-core machine),
2. `dbt run --full-refresh` on the same warehouse (what the history costs).
At every scale but the largest, one more delta is then timed the same way: as many new events as the largest
scale's +GROWTH (the same delta on a smaller history).
Goals (issue 10): incremental <= 0.15 of a full refresh at the largest scale (10M), and incremental at 10M
<= 1.5x at 1M. The growth goal asks whether the cost follows the delta or the history, so it compares the
same delta (+100k events) on both histories; +1% of each (a 10x larger delta at 10M) is printed next to it.
dbt's own execution time (run_results.json, parse excluded) is the figure; wall time is printed too.
RabbitMQ and PostgreSQL are not involved: their speed is `make bench-ingest`'s subject.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cardpipe.bronze.store import LocalStore
from cardpipe.generator.stream import generate
from cardpipe.generator.world import build_world
from cardpipe.ingest.landing import land, live_names
from cardpipe.publisher import message_routing_key

ROOT = Path(__file__).resolve().parents[1]
CARDPIPE = str(ROOT / ".venv" / "bin" / "cardpipe")
DBT = str(ROOT / "dbt" / ".venv" / "bin" / "dbt")
PART_EVENTS = 500_000
BATCH = 20_000
GOAL_RATIO = 0.15
WORLD_SEED = 42
GOAL_GROWTH = 1.5


@dataclass(frozen=True)
class Part:
    stream: str
    events: int
    seed: int


def land_part(bronze: str, part: Part) -> int:
    """Generate one part and land it as the consumer would (live source, batches of BATCH)."""
    store = LocalStore(Path(bronze))
    names = live_names(f"bench{part.seed}")
    batch: list[tuple[bytes, dict[str, object]]] = []
    landed = 0
    world = build_world(WORLD_SEED)  # one catalog for every part: more events, not more SKUs
    for event in generate(part.stream, part.events, seed=part.seed, world=world):  # type: ignore[arg-type]
        batch.append((event.body, {"redelivered": False, "routing_key": message_routing_key(event)}))
        if len(batch) >= BATCH:
            landed += land(store, batch, source="live", name_factory=names).events
            batch = []
    if batch:
        landed += land(store, batch, source="live", name_factory=names).events
    return landed


def land_events(bronze: Path, parts: list[Part], workers: int) -> int:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(land_part, [str(bronze)] * len(parts), parts))


def run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr}")
    return time.perf_counter() - start


def dbt_elapsed(target: Path) -> float:
    return float(json.loads((target / "run_results.json").read_text())["elapsed_time"])


def slowest_models(target: Path, n: int = 6) -> str:
    """The run's n slowest models with their seconds: where an incremental run's time goes."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    ranked = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:n]
    return ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.2f}" for r in ranked)


@dataclass(frozen=True)
class Figures:
    events: int
    new_events: int
    incremental_dbt: float
    incremental_wall: float
    full_dbt: float
    full_wall: float
    same_delta_events: int = 0
    same_delta_dbt: float = 0.0  # incremental with the largest scale's delta (0: this is the largest scale)

    @property
    def ratio(self) -> float:
        return self.incremental_dbt / self.full_dbt


def timed_incremental(dbt: list[str], env: dict[str, str], target: Path, repeat: int) -> tuple[float, float]:
    """Median dbt time and wall time of REPEAT incremental runs, each from the same warehouse file."""
    duckdb_path = Path(env["DUCKDB_PATH"])
    snapshot = duckdb_path.with_suffix(".before-incremental")
    shutil.copyfile(duckdb_path, snapshot)
    dbt_times, walls = [], []
    for n in range(repeat):
        if n:
            shutil.copyfile(snapshot, duckdb_path)
        walls.append(run(dbt, env, cwd=ROOT / "dbt"))
        dbt_times.append(dbt_elapsed(target))
    snapshot.unlink()
    runs = ", ".join(f"{t:.2f}" for t in dbt_times)
    print(f"    incremental runs (s): {runs}; slowest models, last run: {slowest_models(target)}", flush=True)
    return statistics.median(dbt_times), statistics.median(walls)


def measure(
    scale: int, growth: float, workers: int, data_dir: Path, repeat: int, same_delta: int = 0
) -> Figures:
    shutil.rmtree(data_dir, ignore_errors=True)
    duckdb_path = data_dir / "warehouse.duckdb"
    env = {
        **os.environ,
        "CARDPIPE_DATA_DIR": str(data_dir),
        "BRONZE_DIR": str(data_dir / "bronze"),
        "WAREHOUSE_DUCKDB_PATH": str(duckdb_path),
        "DUCKDB_PATH": str(duckdb_path),
        "DBT_TARGET": "local",
        "CARDPIPE_LOG_FORMAT": "json",
    }
    target = data_dir / "dbt-target"
    dbt = [DBT, "run", "--profiles-dir", ".", "--project-dir", ".", "--target-path", str(target)]

    start = time.perf_counter()
    parts = [
        Part("history", min(PART_EVENTS, scale - i), 1000 + n)
        for n, i in enumerate(range(0, scale, PART_EVENTS))
    ]
    landed = land_events(data_dir / "bronze", parts, workers)
    run([CARDPIPE, "load"], env)
    run([DBT, "seed", *dbt[2:]], env, cwd=ROOT / "dbt")  # reference data (FX rates) the models read
    run([*dbt, "--full-refresh"], env, cwd=ROOT / "dbt")
    print(
        f"  {scale:,} events: landed {landed:,}, loaded and built in {time.perf_counter() - start:.0f} s",
        flush=True,
    )

    new_events = int(scale * growth)
    land_events(data_dir / "bronze", [Part("live", new_events, 4242)], 1)
    run([CARDPIPE, "load"], env)
    incremental_dbt, incremental_wall = timed_incremental(dbt, env, target, repeat)
    full_wall = run([*dbt, "--full-refresh"], env, cwd=ROOT / "dbt")
    full_dbt = dbt_elapsed(target)
    print(f"    full refresh, slowest models (s): {slowest_models(target)}", flush=True)
    print(
        f"  {scale:,} events +{new_events:,}: incremental {incremental_dbt:.2f} s dbt "
        f"({incremental_wall:.1f} s wall), "
        f"full refresh {full_dbt:.1f} s dbt ({full_wall:.1f} s wall): ratio {incremental_dbt / full_dbt:.3f} "
        f"(goal <= {GOAL_RATIO})",
        flush=True,
    )
    same_delta_dbt = 0.0
    if same_delta:
        land_events(data_dir / "bronze", [Part("live", same_delta, 4343)], 1)
        run([CARDPIPE, "load"], env)
        same_delta_dbt, wall = timed_incremental(dbt, env, target, repeat)
        print(
            f"  {scale + new_events:,} events +{same_delta:,} (the largest scale's delta): incremental "
            f"{same_delta_dbt:.2f} s dbt ({wall:.1f} s wall)",
            flush=True,
        )
    return Figures(
        scale, new_events, incremental_dbt, incremental_wall, full_dbt, full_wall, same_delta, same_delta_dbt
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--growth", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="incremental runs per figure (median)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/sportscards-bench-dbt-cost"))
    args = parser.parse_args()

    print(f"dbt incremental vs full refresh (load average at start {os.getloadavg()[0]:.1f})", flush=True)
    scales = sorted(args.scales)
    largest_delta = int(scales[-1] * args.growth)
    results = [
        measure(
            scale, args.growth, args.workers, args.data_dir / str(scale), args.repeat,
            same_delta=largest_delta if scale != scales[-1] else 0,
        )
        for scale in scales
    ]  # fmt: skip
    for figures in results:
        verdict = "met" if figures.ratio <= GOAL_RATIO else "missed"
        goal = "" if figures is results[-1] else " (the goal is the largest scale's)"
        print(f"{figures.events:>12,} events: incremental / full = {figures.ratio:.3f} ({verdict}){goal}")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = large.incremental_dbt / small.same_delta_dbt
        verdict = "met" if growth <= GOAL_GROWTH else "missed"
        print(
            f"incremental +{large.new_events:,} at {large.events:,} / at "
            f"{small.events + small.new_events:,}: "
            f"{large.incremental_dbt:.2f} / {small.same_delta_dbt:.2f} = {growth:.2f} "
            f"(goal <= {GOAL_GROWTH}: {verdict})"
        )
        print(
            f"(+1% of each: {large.incremental_dbt:.2f} s at {large.events:,} / "
            f"{small.incremental_dbt:.2f} s at {small.events:,} = "
            f"{large.incremental_dbt / small.incremental_dbt:.2f}, a 10x larger delta)"
        )
    for scale in args.scales:
        shutil.rmtree(args.data_dir / str(scale), ignore_errors=True)


if __name__ == "__main__":
    main()
