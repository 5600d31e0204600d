"""Shared fixtures: real RabbitMQ and PostgreSQL on localhost, a moto S3 server on 127.0.0.1.

Every test session gets its own RabbitMQ names and its own PostgreSQL database, so suites running at
the same time on one machine (several developers, CI) never see each other's messages or rows.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pika
import psycopg2
import pytest
from cardpipe.config import BronzeSettings, PostgresSettings, RabbitSettings, Settings

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def rabbit_settings() -> Iterator[RabbitSettings]:
    """A private exchange/queue/DLX set for one test, deleted afterwards."""
    tag = f"test.{uuid.uuid4().hex[:10]}"
    settings = RabbitSettings(
        url=AMQP_URL,
        exchange=f"{tag}.x",
        queue=f"{tag}.q",
        dead_letter_exchange=f"{tag}.dlx",
        dead_letter_queue=f"{tag}.dlq",
        prefetch=500,
    )
    yield settings
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    ch = conn.channel()
    for q in (settings.queue, settings.dead_letter_queue):
        ch.queue_delete(q)
    for x in (settings.exchange, settings.dead_letter_exchange):
        ch.exchange_delete(x)
    conn.close()


@pytest.fixture
def pg_settings() -> Iterator[PostgresSettings]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield PostgresSettings(dsn=f"postgresql://postgres@127.0.0.1:5432/{name}")
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server as a separate process on 127.0.0.1 (real HTTP, not in-process patching)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("moto server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_bronze(moto_server: str, aws_env: None) -> BronzeSettings:
    """Bronze settings pointing at a fresh bucket on the moto server."""
    bucket = f"bronze-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return BronzeSettings(
        backend="s3", s3_bucket=bucket, s3_prefix="sportscards", s3_endpoint_url=moto_server
    )


@pytest.fixture
def local_bronze(tmp_path: Path) -> BronzeSettings:
    return BronzeSettings(backend="local", dir=tmp_path / "bronze")


@pytest.fixture(params=["local", "s3"])
def bronze_settings(request: pytest.FixtureRequest) -> BronzeSettings:
    """Runs a test once per store backend."""
    name = "local_bronze" if request.param == "local" else "s3_bronze"
    settings: BronzeSettings = request.getfixturevalue(name)
    return settings


@pytest.fixture
def settings(
    tmp_path: Path,
    rabbit_settings: RabbitSettings,
    pg_settings: PostgresSettings,
    local_bronze: BronzeSettings,
) -> Settings:
    """Complete settings isolated to one test (local bronze; swap `bronze` for S3 tests)."""
    return Settings(data_dir=tmp_path, rabbitmq=rabbit_settings, postgres=pg_settings, bronze=local_bronze)
