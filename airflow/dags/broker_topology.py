"""Declare the broker topology (exchange, quorum queue with its dead-letter and delivery-limit arguments,
dead-letter exchange and queue) on the environment's broker, Amazon MQ for RabbitMQ on AWS.

Nothing else declares it there: the Lambda's event source mapping only consumes, and producers publish to the
exchange. Runs once after the first deployment (`@once`) and whenever triggered by hand, e.g. after
restoring the broker. Idempotent: it is cardpipe's own `declare_topology`, the same declaration the local
publisher and consumer make, over the Airflow connection names.CONN_RABBITMQ (AMQPS). A queue that already
exists with other arguments is refused by the broker (PRECONDITION_FAILED); the task then fails at once (no
retry), saying so, rather than touching a queue that may hold messages.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task
from cardpipe.contracts import names
from sportscards_lib.defaults import default_args

log = logging.getLogger("sportscards.broker")


@dag(
    dag_id=names.DAG_BROKER_TOPOLOGY,
    schedule="@once",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, timeout_minutes=10),
    tags=["sportscards", "broker"],
    doc_md=__doc__,
)
def broker_topology() -> None:
    @task
    def declare() -> dict[str, Any]:
        """Declare (or confirm) every exchange, queue and binding; returns what was declared."""
        import pika.exceptions
        from cardpipe.sources.rabbit import connect, declare_topology
        from sportscards_lib.settings import rabbit_settings

        rabbit = rabbit_settings()
        declared = {
            "exchange": rabbit.exchange,
            "queue": rabbit.queue,
            "dead_letter_exchange": rabbit.dead_letter_exchange,
            "dead_letter_queue": rabbit.dead_letter_queue,
            "delivery_limit": rabbit.delivery_limit,
        }
        connection = connect(rabbit)
        try:
            declare_topology(connection.channel(), rabbit)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 406:  # PRECONDITION_FAILED: exists with other arguments or type
                from airflow.sdk.exceptions import AirflowFailException

                # permanent: fail now, retrying cannot change the broker's answer
                raise AirflowFailException(
                    f"the broker already has this topology with other arguments ({exc.reply_text}); "
                    "migrate the queue by hand (deleting a quorum queue drops its messages)"
                ) from None
            raise
        finally:
            if connection.is_open:
                connection.close()
        log.info("broker topology declared: %s", declared)
        return declared

    declare()


broker_topology()
