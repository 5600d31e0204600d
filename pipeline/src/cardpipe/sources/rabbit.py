"""RabbitMQ connection and topology, declared by both the publisher and the consumer (idempotent).

Topology: a durable topic exchange -> a quorum queue bound with '#'; the queue dead-letters (after
`delivery_limit` redeliveries, or an explicit reject) to a fanout dead-letter exchange and its queue,
so a message that crashes consumers over and over cannot block the queue forever.
"""

from __future__ import annotations

import pika
import pika.exceptions

from cardpipe.config import RabbitSettings
from cardpipe.errors import rabbit_unreachable


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


def declare_topology(
    channel: pika.adapters.blocking_connection.BlockingChannel, settings: RabbitSettings
) -> None:
    channel.exchange_declare(settings.dead_letter_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(settings.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(settings.dead_letter_queue, settings.dead_letter_exchange)
    channel.exchange_declare(settings.exchange, exchange_type="topic", durable=True)
    channel.queue_declare(
        settings.queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-delivery-limit": settings.delivery_limit,
        },
    )
    channel.queue_bind(settings.queue, settings.exchange, routing_key="#")


def routing_key(event_type: str) -> str:
    """Routing keys are '<domain>.<event_type>' so other consumers can bind to one domain."""
    domain = event_type.split("_", 1)[0]
    return f"{domain}.{event_type}"
