# ruff: noqa: PLC0415  (Airflow may only be imported after the environment below is set)
"""Airflow test harness: Airflow 3.3.1 from airflow/.venv, metadata in SQLite under a temp AIRFLOW_HOME.

The environment must be set before Airflow is imported (it reads its configuration at import), hence the
module-level block. Each test that touches services gets its own PostgreSQL database and RabbitMQ names,
like tests/pipeline, because other suites share those servers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow" / "dags"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
# moto[server] lives in the root venv (the Airflow venv only needs boto3 to talk to it over HTTP)
ROOT_PYTHON = REPO / ".venv" / "bin" / "python"

_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",  # no phoning home from tests
        # the task runner would otherwise phone home for the secrets backend cache of the api server
        "AIRFLOW__SECRETS__USE_CACHE": "False",
    }
)
# DAG files import their helpers the way the DAG bundle does on MWAA: with the dags folder on sys.path.
sys.path.append(str(DAGS))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """`airflow db migrate` once per session into the temp SQLite file."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return _HOME


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg2

    name = f"test_af_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server (S3, SNS, SQS, Secrets Manager) as a separate process on 127.0.0.1: real HTTP."""
    if not ROOT_PYTHON.exists():
        pytest.skip("root venv missing (.venv/bin/python with moto[server]): run `make setup`")
    port = _free_port()
    proc = subprocess.Popen(
        [str(ROOT_PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server: str) -> str:
    """boto3 (ours and Airflow's) talks to the moto server with dummy credentials; returns its URL."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture
def rabbit_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Private exchange/queue/DLX names for one test (RABBITMQ_* as cardpipe reads them), deleted after."""
    import pika

    tag = f"test.af.{uuid.uuid4().hex[:10]}"
    names = {
        "RABBITMQ_EXCHANGE": f"{tag}.x",
        "RABBITMQ_QUEUE": f"{tag}.q",
        "RABBITMQ_DEAD_LETTER_EXCHANGE": f"{tag}.dlx",
        "RABBITMQ_DEAD_LETTER_QUEUE": f"{tag}.dlq",
    }
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    yield names
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = conn.channel()
    for queue in (names["RABBITMQ_QUEUE"], names["RABBITMQ_DEAD_LETTER_QUEUE"]):
        channel.queue_delete(queue)
    for exchange in (names["RABBITMQ_EXCHANGE"], names["RABBITMQ_DEAD_LETTER_EXCHANGE"]):
        channel.exchange_delete(exchange)
    conn.close()


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """The settings glue writes os.environ (that is its job): put it back exactly as it was after the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def encrypted_key_pem(passphrase: str) -> str:
    """A fresh RSA key as encrypted PKCS#8 PEM, like a Snowflake service user's key (test data only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def snowflake_connection(user: str, passphrase: str, key_pem: str, **extra: str) -> dict[str, object]:
    """The JSON an operator stores for a Snowflake connection (Secrets Manager secret or AIRFLOW_CONN_*)."""
    return {
        "conn_type": "snowflake",
        "login": user,
        "password": passphrase,
        "extra": {"account": "xy12345.eu-west-1", "private_key_content": key_pem, **extra},
    }
