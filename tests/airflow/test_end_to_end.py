# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""`dag.test()` of the whole chain against the local PostgreSQL, a temp bronze dir, DuckDB and dbt:
events_backfill_to_s3 -> s3_to_snowflake_load_raw -> dbt_transform_and_test -> data_quality.

Each DAG runs in-process with the real cardpipe functions and dbt in its own venv; the assertions read the
bronze files and the DuckDB RAW/mart tables the DAGs produced.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
from pathlib import Path

import duckdb
import journal_seed
import pytest
from conftest import DAGS, REPO

pytestmark = pytest.mark.integration

DBT_EXE = REPO / "dbt" / ".venv" / "bin" / "dbt"
MANIFEST = REPO / "dbt" / "target" / "manifest.json"


def _bronze_event_ids(bronze: Path) -> list[str]:
    ids = []
    for path in sorted((bronze / "raw" / "events").rglob("*.ndjson.gz")):
        ids += [json.loads(line)["event_id"] for line in gzip.decompress(path.read_bytes()).splitlines()]
    return ids


def _run(dag_id: str, **conf: object) -> str:
    """Parse the DAG file now (so parse-time settings see this test's environment) and dag.test() it."""
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS / f"{dag_id}.py"), bundle_path=DAGS)
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    run = dag.test(run_conf=conf or None)
    return str(run.state)


@pytest.fixture
def pipeline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_dsn: str) -> dict[str, Path]:
    """cardpipe and dbt configured through the environment, exactly as on a worker."""
    bronze, warehouse = tmp_path / "bronze", tmp_path / "warehouse.duckdb"
    tag = f"test.af.{uuid.uuid4().hex[:10]}"
    env = {
        "POSTGRES_DSN": pg_dsn,
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(bronze),
        "WAREHOUSE_KIND": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(warehouse),
        "DUCKDB_PATH": str(warehouse),
        "CARDPIPE_DATA_DIR": str(tmp_path),
        "RABBITMQ_EXCHANGE": f"{tag}.x",
        "RABBITMQ_QUEUE": f"{tag}.q",
        "RABBITMQ_DEAD_LETTER_EXCHANGE": f"{tag}.dlx",
        "RABBITMQ_DEAD_LETTER_QUEUE": f"{tag}.dlq",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {"bronze": bronze, "warehouse": warehouse}


def _needs_dbt() -> None:
    if not DBT_EXE.exists():
        pytest.skip("dbt venv missing (dbt/.venv/bin/dbt): run `make dbt-setup`")
    if not MANIFEST.exists():
        pytest.skip("dbt manifest missing (dbt/target/manifest.json): run `make dbt-manifest`")


def _bronze_objects(bronze: Path) -> dict[str, bytes]:
    return {p.relative_to(bronze).as_posix(): p.read_bytes() for p in sorted(bronze.rglob("*.gz"))}


@pytest.mark.timeout(2400)  # ~25 dbt invocations through Cosmos; minutes on a loaded 2-core machine
def test_whole_chain_backfill_load_dbt_quality(
    airflow_db: Path,
    pipeline_env: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _needs_dbt()
    from cardpipe.config import PostgresSettings

    bronze, warehouse = pipeline_env["bronze"], pipeline_env["warehouse"]
    counts = journal_seed.seed(PostgresSettings(dsn=os.environ["POSTGRES_DSN"]))

    # 1. backfill: every valid journal row in bronze, the malformed one quarantined, control record written
    assert _run("events_backfill_to_s3", chunk_rows=4) == "success"
    ids = _bronze_event_ids(bronze)
    assert len(ids) == counts["valid_rows"]
    assert len(set(ids)) == counts["distinct_events"]
    objects = _bronze_objects(bronze)
    assert any(k.startswith("raw/quarantine/source=backfill/reason=undecodable/") for k in objects)
    assert "raw/_control/journal_counts/all.ndjson.gz" in objects
    # re-running the window (how a failed run is resumed) rewrites the same event objects with the same bytes
    assert _run("events_backfill_to_s3", chunk_rows=4) == "success"
    again = _bronze_objects(bronze)
    assert again.keys() == objects.keys()
    assert {k: v for k, v in again.items() if "/events/" in k} == {
        k: v for k, v in objects.items() if "/events/" in k
    }

    # 2. load: RAW holds one row per bronze line (duplicates kept), the quarantine row with its reason
    assert _run("s3_to_snowflake_load_raw") == "success"
    with duckdb.connect(str(warehouse), read_only=True) as db:
        assert db.execute("select count(*) from raw.events").fetchone() == (counts["valid_rows"],)
        assert db.execute("select reason, count(*) from raw.quarantine group by 1").fetchall() == [
            ("undecodable", 1)
        ]

    # 3. dbt: freshness, models and tests; the marts count the duplicated order once
    assert _run("dbt_transform_and_test") == "success"
    with duckdb.connect(str(warehouse), read_only=True) as db:
        schemas = {
            r[0] for r in db.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
        marts = next(s for s in schemas if s.endswith("marts"))
        assert db.execute(f"select count(distinct order_id) from {marts}.fct_orders").fetchone() == (2,)
        assert db.execute(f"select count(*) from {marts}.fct_orders").fetchone() == (3,)

    # 4. quality gate passes on consistent data (reconciliation, freshness, volume)
    assert _run("data_quality") == "success"

    # 5. ...and fails loudly when RAW lost an event the journal has (reconciliation mismatch)
    with duckdb.connect(str(warehouse)) as db:
        db.execute("delete from raw.events where event_type = 'batch_started'")
    capfd.readouterr()
    caplog.clear()
    assert _run("data_quality") == "failed"
    out, err = capfd.readouterr()
    # The alert goes through logging: to the terminal, or to pytest's log capture when it owns the handlers.
    assert "sportscards ALERT: data_quality.quality_tests failed" in out + err + caplog.text


def test_load_dag_drains_the_live_queue_when_asked(airflow_db: Path, pipeline_env: dict[str, Path]) -> None:
    """drain_live_queue=True (local/dev without the Lambda): RabbitMQ -> bronze -> RAW in one run."""
    from datetime import UTC, datetime

    import pika
    from cardpipe.config import RabbitSettings
    from cardpipe.contracts.codec import encode_event
    from cardpipe.sources.rabbit import declare_topology, routing_key
    from sportscards.orders.v1 import orders_pb2

    rabbit = RabbitSettings()  # this test's private names, from pipeline_env
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    try:
        channel = conn.channel()
        channel = declare_topology(channel, rabbit)  # the channel to go on with
        ids = [str(uuid.uuid4()) for _ in range(2)]
        for event_id in ids:
            body = encode_event(
                event_id=event_id,
                event_type="order_status_changed",
                occurred_at=datetime.now(UTC),
                payload=orders_pb2.OrderStatusChanged(order_id="o-9", status=orders_pb2.ORDER_STATUS_PAID),
            )
            channel.basic_publish(
                rabbit.exchange,
                routing_key("order_status_changed"),
                body,
                pika.BasicProperties(delivery_mode=2),
            )
        assert _run("s3_to_snowflake_load_raw", drain_live_queue=True) == "success"
        with duckdb.connect(str(pipeline_env["warehouse"]), read_only=True) as db:
            rows = db.execute("select event_id from raw.events where source = 'live' order by 1").fetchall()
        assert [r[0] for r in rows] == sorted(ids)
    finally:
        channel = conn.channel()
        for queue in (rabbit.queue, rabbit.dead_letter_queue):
            channel.queue_delete(queue)
        for exchange in (rabbit.exchange, rabbit.dead_letter_exchange):
            channel.exchange_delete(exchange)
        conn.close()
