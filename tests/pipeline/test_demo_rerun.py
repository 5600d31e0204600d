"""`make demo` run again with another EVENTS and SEED, after other cardpipe commands, gives exactly that run's
marts and passes its dbt tests (before `cardpipe reset-local`, bronze and RAW kept the earlier generation:
the reconciliation test failed and batch cycle times mixed the two runs)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pika
import psycopg2
import pytest
from cardpipe.generator.stream import generate

ROOT = Path(__file__).resolve().parents[2]
CARDPIPE = str(ROOT / ".venv" / "bin" / "cardpipe")
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
LIVE_SHARE = 0.2


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    db = f"test_demo_{uuid.uuid4().hex[:10]}"
    tag = f"test.demo.{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    env = {
        **os.environ,
        "RABBITMQ_URL": AMQP_URL,
        "RABBITMQ_EXCHANGE": f"{tag}.x",
        "RABBITMQ_QUEUE": f"{tag}.q",
        "RABBITMQ_DEAD_LETTER_EXCHANGE": f"{tag}.dlx",
        "RABBITMQ_DEAD_LETTER_QUEUE": f"{tag}.dlq",
        "POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:5432/{db}",
        "CARDPIPE_DATA_DIR": str(tmp_path),
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(tmp_path / "bronze"),
        "WAREHOUSE_KIND": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "CARDPIPE_LOG_FORMAT": "json",
        "LIVE_SHARE": str(LIVE_SHARE),
        "DEMO_DASHBOARDS": "0",  # the dashboards have their own tests (tests/dashboards)
    }
    yield env
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    for queue in (env["RABBITMQ_QUEUE"], env["RABBITMQ_DEAD_LETTER_QUEUE"]):
        channel.queue_delete(queue)
    for exchange in (env["RABBITMQ_EXCHANGE"], env["RABBITMQ_DEAD_LETTER_EXCHANGE"]):
        channel.exchange_delete(exchange)
    connection.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _generated_ids(events: int, seed: int) -> set[str]:
    live = int(events * LIVE_SHARE)
    ids = set()
    for stream, count in (("history", events - live), ("live", live)):
        ids |= {e.event_id for e in generate(stream, count, seed=seed) if e.event_id and not e.is_malformed}  # type: ignore[arg-type]
    return ids


def test_second_demo_holds_exactly_its_own_run(demo_env: dict[str, str]) -> None:
    _run(["bash", "scripts/demo.sh", "3000"], {**demo_env, "SEED": "7"})
    # Other commands in between: live events published and never consumed stay in the queue.
    _run([CARDPIPE, "publish", "--events", "400", "--seed", "99"], demo_env)

    out = _run(["bash", "scripts/demo.sh", "2000"], {**demo_env, "SEED": "8"})
    assert "purged messages" in out

    with duckdb.connect(demo_env["WAREHOUSE_DUCKDB_PATH"], read_only=True) as con:
        raw_ids = {row[0] for row in con.execute("select distinct event_id from raw.events").fetchall()}
        negative = con.execute(
            "select count(*) from marts.fct_batch_performance where cycle_time_seconds < 0"
        ).fetchone()
    assert raw_ids == _generated_ids(2000, seed=8)
    assert negative == (0,)
