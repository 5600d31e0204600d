# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""The broker_topology DAG declares cardpipe's topology over the Airflow connection, against the real local
RabbitMQ with names private to the test: the quorum queue dead-letters, repeats are harmless, and a queue that
exists with other arguments fails the task instead of being touched."""

from __future__ import annotations

import uuid
from pathlib import Path

import pika
import pika.exceptions
import pytest
from cardpipe.contracts import names
from conftest import AMQP_URL, DAGS

pytestmark = pytest.mark.integration


def _run(conf: dict[str, object] | None = None) -> str:
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS / f"{names.DAG_BROKER_TOPOLOGY}.py"), bundle_path=DAGS)
    assert not bag.import_errors, bag.import_errors
    return str(bag.get_dag(names.DAG_BROKER_TOPOLOGY).test(run_conf=conf).state)


@pytest.fixture
def broker_conn(monkeypatch: pytest.MonkeyPatch, restore_environ: None) -> None:
    """The broker only as the Airflow connection (RABBITMQ_URL unset), as on MWAA."""
    monkeypatch.delenv("RABBITMQ_URL", raising=False)
    monkeypatch.setenv(f"AIRFLOW_CONN_{names.CONN_RABBITMQ.upper()}", AMQP_URL)


def test_topology_dag_declares_a_dead_lettering_queue_idempotently(
    airflow_db: Path, rabbit_names: dict[str, str], broker_conn: None
) -> None:
    assert _run() == "success"
    assert _run() == "success"  # declaring again is a no-op

    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        ch = conn.channel()
        queue, dlq = rabbit_names["RABBITMQ_QUEUE"], rabbit_names["RABBITMQ_DEAD_LETTER_QUEUE"]
        ch.queue_declare(queue, passive=True)
        ch.queue_declare(dlq, passive=True)
        # bound with '#': any routing key of the exchange lands in the queue
        body = uuid.uuid4().hex.encode()
        ch.basic_publish(rabbit_names["RABBITMQ_EXCHANGE"], "orders.order_status_changed", body)
        method, _, got = next(ch.consume(queue, inactivity_timeout=10))
        assert got == body
        # a rejected message is dead-lettered (x-dead-letter-exchange), not lost
        ch.basic_reject(method.delivery_tag, requeue=False)
        ch.cancel()
        _, _, dead = next(ch.consume(dlq, inactivity_timeout=10))
        assert dead == body
        ch.cancel()
    finally:
        conn.close()

    # the queue carries exactly the configured delivery limit: redeclaring with another one is refused
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            conn.channel().queue_declare(
                rabbit_names["RABBITMQ_QUEUE"],
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-dead-letter-exchange": rabbit_names["RABBITMQ_DEAD_LETTER_EXCHANGE"],
                    "x-delivery-limit": names.DELIVERY_LIMIT + 1,
                },
            )
        assert refused.value.reply_code == 406
    finally:
        if conn.is_open:
            conn.close()


def test_topology_dag_refuses_to_touch_a_queue_with_other_arguments(
    airflow_db: Path,
    rabbit_names: dict[str, str],
    broker_conn: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _run() == "success"
    monkeypatch.setenv("RABBITMQ_DELIVERY_LIMIT", str(names.DELIVERY_LIMIT + 5))
    assert _run() == "failed"
    assert "already has this topology with other arguments" in caplog.text
    # the existing queue is still there, untouched
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        conn.channel().queue_declare(rabbit_names["RABBITMQ_QUEUE"], passive=True)
    finally:
        conn.close()


def test_topology_dag_is_scheduled_once_and_can_be_triggered(dagbag: object) -> None:
    dag = dagbag.get_dag(names.DAG_BROKER_TOPOLOGY)  # type: ignore[attr-defined]
    assert dag is not None
    from airflow.sdk.definitions.timetables.simple import OnceTimetable

    assert isinstance(dag.timetable, OnceTimetable)
    assert [t.task_id for t in dag.tasks] == ["declare"]
    assert dag.max_active_runs == 1 and dag.catchup is False


def test_data_quality_fails_loudly_while_the_dead_letter_queue_holds_messages(
    dagbag: object, rabbit_names: dict[str, str], broker_conn: None
) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from cardpipe.config import RabbitSettings
    from cardpipe.sources.rabbit import declare_topology

    check = dagbag.get_dag(names.DAG_DATA_QUALITY).get_task("dead_letter_queue_empty")  # type: ignore[attr-defined]
    assert check.python_callable() == 0  # no topology yet: nothing dead-lettered
    rabbit = RabbitSettings(url=AMQP_URL)
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        ch = conn.channel()
        ch = declare_topology(ch, rabbit)  # the channel to go on with
        ch.basic_publish(rabbit_names["RABBITMQ_DEAD_LETTER_EXCHANGE"], "x", b"dead")
        ch.basic_publish(rabbit_names["RABBITMQ_DEAD_LETTER_EXCHANGE"], "x", b"dead")
    finally:
        conn.close()
    with pytest.raises(AirflowFailException, match=r"2 message\(s\) in the dead-letter queue"):
        check.python_callable()
