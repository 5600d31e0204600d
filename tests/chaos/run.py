"""`make chaos`: every fault scenario at full size, one table row each, printed and written as markdown.

python tests/chaos/run.py [--size full|short] [--only name ...] [--out .data/chaos]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from harness import COLUMNS, FULL, ROOT, SHORT, Row, cells, markdown  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=("full", "short"), default="full")
    parser.add_argument("--only", nargs="*", default=None, help="scenario names (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / ".data" / "chaos")
    args = parser.parse_args()
    size = FULL if args.size == "full" else SHORT
    names = args.only or list(SCENARIOS)
    out: Path = args.out
    rows: list[Row] = []
    descriptions = {}
    started = time.monotonic()
    for name in names:
        scenario, doc = SCENARIOS[name]
        work = out / name
        shutil.rmtree(work, ignore_errors=True)
        t0 = time.monotonic()
        try:
            row = scenario(work, size)
        except Exception as exc:  # a scenario that crashes is a row that failed, not a crashed run
            row = Row(fault=name, failures=[f"scenario crashed: {exc.__class__.__name__}: {exc}"])
            traceback.print_exc()
        descriptions[row.fault] = " ".join(doc.split())
        rows.append(row)
        print(f"[{time.monotonic() - t0:6.1f}s] {' | '.join(cells(row))}{'' if row.ok else '  <-- FAILED'}")
        sys.stdout.flush()
    table = markdown(rows, descriptions)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(
        f"Chaos run ({size.name}: {size.history:,} journal + {size.live:,} live events per scenario, "
        f"{size.kills} kills), {time.monotonic() - started:.0f}s\n\n{table}"
    )
    (out / "report.json").write_text(json.dumps([asdict(r) for r in rows], indent=2, default=str))
    widths = [max(len(c), *(len(cells(r)[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    print()
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(cells(r), widths, strict=True)))
    print(f"\nreport: {out / 'report.md'}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
