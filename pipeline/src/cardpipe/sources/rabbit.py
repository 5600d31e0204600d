"""RabbitMQ connection and topology, declared by both the publisher and the consumer (idempotent).

Topology: a durable topic exchange -> a quorum queue bound with '#'; the queue dead-letters (after
`delivery_limit` redeliveries, or an explicit reject) to a fanout dead-letter exchange and its queue,
so a message that crashes consumers over and over cannot block the queue forever. Dead-lettering is
at-least-once (names.DEAD_LETTER_STRATEGY with names.QUEUE_OVERFLOW): the message leaves the source queue
only once the dead-letter queue has it. The DLQ is drained into quarantine by ingest.dead_letters.
"""

from __future__ import annotations

import json

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from cardpipe.config import RabbitSettings
from cardpipe.contracts import names
from cardpipe.errors import rabbit_unreachable
from cardpipe.logs import get_logger

log = get_logger("cardpipe.rabbit")


def connect(settings: RabbitSettings, *, heartbeat: int = 60) -> pika.BlockingConnection:
    params = pika.URLParameters(settings.url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 300
    params.connection_attempts = 1
    params.socket_timeout = 5
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPConnectionError as exc:
        raise rabbit_unreachable(settings.url, exc) from exc


class TopologyMismatch(Exception):
    """The broker has the queue with other arguments (PRECONDITION_FAILED): declaring cannot change it."""


def queue_arguments(settings: RabbitSettings) -> dict[str, str | int]:
    """The source queue's x-arguments (names.source_queue_arguments is their single owner)."""
    return names.source_queue_arguments(settings.dead_letter_exchange, settings.delivery_limit)


def legacy_queue_arguments(settings: RabbitSettings) -> dict[str, str | int]:
    """What the source queue was declared with before at-least-once dead-lettering."""
    args = queue_arguments(settings)
    args.pop("x-dead-letter-strategy")
    args.pop("x-overflow")
    return args


def policy_fix(settings: RabbitSettings) -> str:
    """The operator's fix for a queue declared before at-least-once dead-lettering: one policy, applied to
    the live queue (messages kept); see docs/operations.md "Dead-letter queue"."""
    policy = names.dead_letter_policy(settings.queue)
    definition = json.dumps(policy["definition"], separators=(",", ":"))
    return (
        f"apply the policy {names.DEAD_LETTER_POLICY}: `rabbitmqctl set_policy "
        f"--apply-to {policy['apply-to']} --priority {policy['priority']} {names.DEAD_LETTER_POLICY} "
        f"'{policy['pattern']}' '{definition}'` "
        f"(Amazon MQ: PUT /api/policies/%2F/{names.DEAD_LETTER_POLICY} on the broker's management API with "
        "the same pattern and definition), then run the broker_topology DAG with "
        '{"dead_letter_policy_applied": true}'
    )


def declare_topology(
    channel: BlockingChannel, settings: RabbitSettings, *, allow_legacy: bool = True
) -> BlockingChannel:
    """Declare exchanges, queues and bindings (idempotent); returns the channel to go on with (a new one when
    the broker closed the first over a legacy queue).

    A source queue declared before at-least-once dead-lettering (no x-dead-letter-strategy / x-overflow) is
    refused with PRECONDITION_FAILED: it is accepted as it is when `allow_legacy` (consumers keep running;
    a warning names the policy that fixes it), otherwise TopologyMismatch names the fix. Any other argument
    difference raises TopologyMismatch: nothing here deletes a queue that may hold messages.
    """
    channel.exchange_declare(settings.dead_letter_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(settings.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(settings.dead_letter_queue, settings.dead_letter_exchange)
    channel.exchange_declare(settings.exchange, exchange_type="topic", durable=True)
    try:
        channel.queue_declare(settings.queue, durable=True, arguments=queue_arguments(settings))
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 406:  # PRECONDITION_FAILED: the queue exists with other arguments
            raise
        channel = channel.connection.channel()
        try:
            channel.queue_declare(settings.queue, durable=True, arguments=legacy_queue_arguments(settings))
        except pika.exceptions.ChannelClosedByBroker as legacy_exc:
            if legacy_exc.reply_code != 406:
                raise
            raise TopologyMismatch(
                f"the broker already has queue {settings.queue} with other arguments ({exc.reply_text}); "
                f"expected {queue_arguments(settings)}. Queue arguments cannot change in place: migrate it "
                'by the procedure in docs/operations.md ("Dead-letter queue"); deleting a quorum queue '
                "drops its messages"
            ) from None
        if not allow_legacy:
            raise TopologyMismatch(
                f"queue {settings.queue} was declared before at-least-once dead-lettering "
                f"(x-dead-letter-strategy={names.DEAD_LETTER_STRATEGY}, x-overflow={names.QUEUE_OVERFLOW}): "
                + policy_fix(settings)
            ) from None
        log.warning("topology.legacy_queue_arguments", queue=settings.queue, fix=policy_fix(settings))
    channel.queue_bind(settings.queue, settings.exchange, routing_key="#")
    return channel


def routing_key(event_type: str) -> str:
    """Routing keys are '<domain>.<event_type>' so other consumers can bind to one domain."""
    domain = event_type.split("_", 1)[0]
    return f"{domain}.{event_type}"
