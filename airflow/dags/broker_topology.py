"""Declare the broker topology (exchange, quorum queue with its dead-letter and delivery-limit arguments,
dead-letter exchange and queue) on the environment's broker, Amazon MQ for RabbitMQ on AWS.

Nothing else declares it there: the Lambda's event source mapping only consumes, and producers publish to the
exchange. Runs once after the first deployment (`@once`) and whenever triggered by hand, e.g. after
restoring the broker. Idempotent: it is cardpipe's own `declare_topology`, the same declaration the local
publisher and consumer make, over the Airflow connection names.CONN_RABBITMQ (AMQPS); the queue arguments are
names.source_queue_arguments (at-least-once dead-lettering). A queue that already exists with other arguments
is refused by the broker (PRECONDITION_FAILED); the task then fails at once (no retry), naming the fix, rather
than touching a queue that may hold messages. A queue declared before at-least-once dead-lettering gets it
from the names.DEAD_LETTER_POLICY policy (the error prints the command); then trigger with
{"dead_letter_policy_applied": true}.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task
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
    params={
        "dead_letter_policy_applied": Param(
            False,
            type="boolean",
            description=f"the queue predates at-least-once dead-lettering and the {names.DEAD_LETTER_POLICY} "
            "policy has been applied to it (docs/operations.md, Dead-letter queue)",
        ),
    },
    doc_md=__doc__,
)
def broker_topology() -> None:
    @task
    def declare(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Declare (or confirm) every exchange, queue and binding; returns what was declared."""
        from cardpipe.sources.rabbit import TopologyMismatch, connect, declare_topology, queue_arguments
        from sportscards_lib.settings import rabbit_settings

        rabbit = rabbit_settings()
        declared = {
            "exchange": rabbit.exchange,
            "queue": rabbit.queue,
            "queue_arguments": queue_arguments(rabbit),
            "dead_letter_exchange": rabbit.dead_letter_exchange,
            "dead_letter_queue": rabbit.dead_letter_queue,
            "delivery_limit": rabbit.delivery_limit,
        }
        connection = connect(rabbit)
        try:
            declare_topology(
                connection.channel(),
                rabbit,
                allow_legacy=bool((params or {}).get("dead_letter_policy_applied")),
            )
        except TopologyMismatch as exc:
            from airflow.sdk.exceptions import AirflowFailException

            # permanent: fail now, retrying cannot change the broker's answer
            raise AirflowFailException(
                f"the broker already has this topology with other arguments: {exc}"
            ) from None
        finally:
            if connection.is_open:
                connection.close()
        log.info("broker topology declared: %s", declared)
        return declared

    declare()


broker_topology()
