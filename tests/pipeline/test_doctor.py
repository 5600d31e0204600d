"""`make doctor` names what is wrong and the fix, and never prints a secret from a URL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _doctor(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "doctor.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ready_machine_passes() -> None:
    proc = _doctor()
    assert proc.returncode == 0, proc.stdout
    assert "RabbitMQ answers on 127.0.0.1:5672" in proc.stdout
    assert "PostgreSQL answers on 127.0.0.1:5432" in proc.stdout


def test_down_server_and_wrong_service_are_named_with_their_fix() -> None:
    closed = _closed_port()
    proc = _doctor(
        RABBITMQ_URL="amqp://user:hunter2-secret@127.0.0.1:5432/%2F",  # PostgreSQL's port: the wrong service
        POSTGRES_DSN=f"postgresql://postgres:other-secret@127.0.0.1:{closed}/postgres",
    )
    assert proc.returncode == 1
    out = proc.stdout
    assert "127.0.0.1:5432 (RABBITMQ_URL) is taken by something that is not RabbitMQ" in out
    assert f"PostgreSQL is not running on 127.0.0.1:{closed} (POSTGRES_DSN)" in out
    assert "fix: bash scripts/ensure-services.sh" in out
    assert "2 to fix" in out
    assert "secret" not in out + proc.stderr
