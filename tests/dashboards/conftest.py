"""Dashboard test fixtures: marts built by the real dbt project from a RAW fixture (tests/dbt's writer),
the site built in a network namespace with no route out, served on 127.0.0.1, opened in headless Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "dbt"), str(HERE)]

import dashboard_scenario  # noqa: E402
from raw_fixture import ROOT, RawWriter  # noqa: E402


def _dbt_suite_module() -> Any:
    """tests/dbt/conftest.py under another name: this file is `conftest` to pytest."""
    spec = importlib.util.spec_from_file_location("dbt_suite_conftest", HERE.parent / "dbt/conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


DbtProject = _dbt_suite_module().DbtProject

PY = ROOT / ".venv/bin/python"
NODE_MODULES = ROOT / "dashboards/node_modules"
SCREENSHOTS = ROOT / ".data/dashboards/screenshots"
PAGE_FILES = ("product.html", "marketing.html", "operations.html", "data-quality.html")


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Three weeks of RAW events -> `dbt build` (unit tests excluded: on a new warehouse dbt cannot read the
    incremental models' columns yet; tests/dbt runs them)."""
    work = tmp_path_factory.mktemp("dashboards-dbt")
    project = DbtProject(db_path=work / "warehouse.duckdb", work=work)
    writer = RawWriter(project.db_path)
    writer.create_schema()
    dashboard_scenario.load(writer)
    project.run("build", "--exclude", "test_type:unit")
    return project


@pytest.fixture(scope="session")
def offline_build(warehouse: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`python -m dashgen build` run inside a fresh network namespace (only a down loopback, no route)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.fail("the offline build test needs root and iproute2 (`ip netns`), as on CI")
    netns = f"dash-{uuid.uuid4().hex[:8]}"
    out = tmp_path_factory.mktemp("dashboards-site") / "site"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        in_ns = ["ip", "netns", "exec", netns]
        probe = subprocess.run(
            [*in_ns, str(PY), "-c", "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)"],
            capture_output=True,
            text=True,
            check=False,
        )
        build = subprocess.run(
            [
                *in_ns,
                "env",
                f"PYTHONPATH={ROOT / 'dashboards'}",
                str(PY),
                "-m",
                "dashgen",
                "build",
                "--duckdb",
                str(warehouse.db_path),
                "--run-results",
                str(warehouse.work / "target/run_results.json"),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
    assert build.returncode == 0, f"offline build failed:\n{build.stdout}\n{build.stderr}"
    return {"out": out, "probe": probe, "build": build}


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A static server for `directory` on 127.0.0.1 (a free port); yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browsed(offline_build: dict[str, Any]) -> dict[str, Any]:
    """Every page opened in headless Chromium (playwright-core); screenshots: .data/dashboards/screenshots."""
    if not (NODE_MODULES / "playwright-core").exists():
        pytest.fail("dashboards/node_modules is missing: run `make setup` (npm ci in dashboards/)")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(offline_build["out"]) as base:
        proc = subprocess.run(
            ["node", str(HERE / "browse.cjs"), base, str(SCREENSHOTS), *PAGE_FILES],
            env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert proc.returncode == 0, f"browser run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(proc.stdout)
    return {p["file"]: p for p in report["pages"]}


class Marts:
    """Queries on the marts the dashboards were built from: read-only, UTC, a connection per query (so dbt can
    take the write lock in between, e.g. for `dbt docs generate`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: list[Any] | None = None) -> Marts:
        with duckdb.connect(str(self.path), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            self.rows = con.execute(sql, params or []).fetchall()
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchone(self) -> tuple[Any, ...]:
        return self.rows[0]


@pytest.fixture(scope="session")
def marts(warehouse: Any) -> Marts:
    return Marts(warehouse.db_path)
