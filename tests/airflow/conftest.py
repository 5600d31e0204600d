# ruff: noqa: PLC0415  (Airflow may only be imported after the environment below is set)
"""Airflow test harness: Airflow 3.3.1 from airflow/.venv, metadata in SQLite under a temp AIRFLOW_HOME.

The environment must be set before Airflow is imported (it reads its configuration at import), hence the
module-level block. Each test that touches services gets its own PostgreSQL database and RabbitMQ names,
like tests/pipeline, because other suites share those servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow" / "dags"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

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
