"""`python -m dashgen build|serve` (PYTHONPATH=dashboards): what `make dashboards-build` and
`make dashboards` run."""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import sys
import time
from pathlib import Path

from cardpipe.config import load_settings

from dashgen import queries
from dashgen.build import build

DEFAULT_OUT = Path("dashboards/build")


def _run_results() -> Path:
    # dbt writes run_results.json into its target path: DBT_TARGET_PATH (relative to dbt/, as dbt reads it)
    # if set, else dbt/target.
    target = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return (target if target.is_absolute() else Path("dbt") / target) / "run_results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dashgen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the static site from the warehouse")
    # The warehouse the pipeline writes: WAREHOUSE_DUCKDB_PATH (environment or .env), as cardpipe reads it.
    b.add_argument("--duckdb", type=Path, default=None, help="DuckDB file (default: WAREHOUSE_DUCKDB_PATH)")
    b.add_argument("--run-results", type=Path, default=None, help="dbt run_results.json")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    s = sub.add_parser("serve", help="serve a built site on localhost")
    s.add_argument("--dir", type=Path, default=DEFAULT_OUT)
    s.add_argument("--port", type=int, default=8088)
    q = sub.add_parser("sql", help="print page queries as a dialect runs them (e.g. for a Sigma workbook)")
    q.add_argument("--dialect", choices=["duckdb", "snowflake"], default="snowflake")
    q.add_argument("names", nargs="*", help="<page>/<name> (default: every query)")
    args = parser.parse_args(argv)

    if args.command == "sql":
        for name in args.names or queries.names():
            print(f"-- dashboards/queries/{name}.sql ({args.dialect})\n{queries.sql(name, args.dialect)}")
        return 0

    if args.command == "build":
        duckdb_path = args.duckdb or load_settings().warehouse.duckdb_path
        started = time.monotonic()
        try:
            pages = build(duckdb_path, args.run_results or _run_results(), args.out)
        except FileNotFoundError as exc:
            print(f"dashgen: {exc}", file=sys.stderr)
            return 1
        print(f"dashboards built from {duckdb_path} in {time.monotonic() - started:.1f} s:")
        for page in pages:
            print(f"  {page}")
        return 0

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(args.dir))
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"dashboards on http://127.0.0.1:{args.port}/index.html (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
