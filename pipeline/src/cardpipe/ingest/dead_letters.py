"""The dead-letter queue: its depth (a data-quality check) and its drain into bronze quarantine.

A message reaches the DLQ when the quorum queue dead-letters it (delivery limit reached, or rejected). Nothing
may stay there unnoticed: `dead_letter_depth` is what the data_quality DAG and `cardpipe drain-dead-letters
--check` fail on, and `drain_dead_letters` lands every dead-lettered message in quarantine (source=live,
reason `dead_lettered`) with its original bytes, routing key and AMQP headers (the x-death history: why,
from which queue, how often): the audit trail. A message that decodes as a valid event is ALSO landed as a
normal live event (ingest.dead_lettered = true, ingest.x_death the summary): on RabbitMQ < 4.3 every return
of an unacked message (channel close, broker restart, consumer crash) counts toward the delivery limit, so
valid events reach the DLQ from infrastructure trouble and must still reach RAW and the marts (staging
dedupes by event_id, so one that was also landed earlier counts once). A batch is acked only after its
durable write, so a crash mid-drain leaves the rest in the DLQ (at-least-once, as the consumer).
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
import pika.spec

from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import RabbitSettings, Settings
from cardpipe.contracts.codec import DecodedEvent, Reason, decode
from cardpipe.ingest.landing import (
    QUARANTINE_META,
    Incoming,
    LandingCounts,
    jsonable,
    land,
    live_names,
)
from cardpipe.logs import get_logger
from cardpipe.sources.rabbit import connect

log = get_logger("cardpipe.dead_letters")

DRAIN_BATCH = 500
IDLE_SECONDS = 1.0


class DeadLettersPending(Exception):
    """The dead-letter queue holds messages: they are not in bronze yet."""

    def __init__(self, queue: str, depth: int) -> None:
        super().__init__(
            f"{depth} message(s) in the dead-letter queue {queue}: they are not in bronze. Land them in "
            "quarantine with `cardpipe drain-dead-letters` (or the s3_to_snowflake_load_raw DAG's "
            "drain_dead_letters task), then look at raw.quarantine where reason = 'dead_lettered' "
            "(ingest.headers.x-death says why)"
        )
        self.queue = queue
        self.depth = depth


def dead_letter_depth(settings: RabbitSettings) -> int:
    """Messages ready in the dead-letter queue (passive declare: changes nothing). A DLQ that does not exist
    yet (topology never declared) holds nothing: 0, with a warning."""
    connection = connect(settings)
    try:
        try:
            ok = connection.channel().queue_declare(settings.dead_letter_queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            log.warning("dead_letters.queue_missing", queue=settings.dead_letter_queue)
            return 0
        depth: int = ok.method.message_count
    finally:
        if connection.is_open:
            connection.close()
    log.info("dead_letters.depth", queue=settings.dead_letter_queue, depth=depth)
    return depth


def check_dead_letters(settings: RabbitSettings) -> int:
    """Raise DeadLettersPending when the DLQ is not empty; returns the depth (0)."""
    depth = dead_letter_depth(settings)
    if depth > 0:
        raise DeadLettersPending(settings.dead_letter_queue, depth)
    return depth


def _death_summary(headers: Any) -> str:
    """One line for `detail`: the first x-death entry's reason, queue and count."""
    deaths = headers.get("x-death") if isinstance(headers, dict) else None
    if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], dict):
        return "dead-lettered (no x-death header)"
    first = deaths[0]
    return (
        f"dead-lettered: reason={first.get('reason')} queue={first.get('queue')} count={first.get('count')}"
    )


def dead_letter_meta(
    method: pika.spec.Basic.Deliver | pika.spec.Basic.GetOk, properties: pika.spec.BasicProperties
) -> dict[str, Any]:
    """Ingest fields of a dead-lettered message. Never raises: what cannot be read is recorded as such."""
    try:
        headers = jsonable(properties.headers or {})
        detail = _death_summary(headers)
    except Exception as exc:
        headers, detail = {"unreadable": type(exc).__name__}, "dead-lettered (unreadable headers)"
    try:
        routing_key = jsonable(method.routing_key)
        exchange = jsonable(method.exchange)
        redelivered = bool(method.redelivered)
    except Exception:
        routing_key, exchange, redelivered = None, None, None
    return {
        "redelivered": redelivered,
        "routing_key": routing_key,
        "exchange": exchange,
        "headers": headers,
        QUARANTINE_META: (Reason.DEAD_LETTERED, detail),
    }


def recovered_event_meta(quarantine_meta: dict[str, Any]) -> dict[str, Any]:
    """Ingest fields of the normal event line of a valid dead-lettered message: the broker fields of the
    quarantine record, marked dead_lettered with the x-death summary (no forced quarantine)."""
    meta = {k: v for k, v in quarantine_meta.items() if k != QUARANTINE_META}
    meta["dead_lettered"] = True
    meta["x_death"] = quarantine_meta[QUARANTINE_META][1]
    return meta


def dead_letter_lines(body: bytes, quarantine_meta: dict[str, Any]) -> list[Incoming]:
    """What to land for one dead-lettered message: always its quarantine record (`dead_lettered`), plus its
    normal event line when it decodes as a valid event. Never raises (a decoder error means: not valid)."""
    lines: list[Incoming] = [(body, quarantine_meta)]
    try:
        valid = type(decode(body)) is DecodedEvent
    except Exception:
        valid = False
    if valid:
        lines.append((body, recovered_event_meta(quarantine_meta)))
    return lines


@dataclass
class DrainStats:
    """`counts` are the landed lines (a valid message gives two: its quarantine record and its event);
    `dead_letters` the messages taken from the DLQ, `recovered` how many of them were valid events."""

    counts: LandingCounts = field(default_factory=LandingCounts)
    batches: int = 0
    dead_letters: int = 0
    recovered: int = 0

    def as_log(self) -> dict[str, Any]:
        return {
            **self.counts.as_log(),
            "batches": self.batches,
            "dead_letters": self.dead_letters,
            "recovered": self.recovered,
        }


def drain_dead_letters(
    settings: Settings,
    *,
    store: BronzeStore | None = None,
    batch_size: int = DRAIN_BATCH,
    idle_seconds: float = IDLE_SECONDS,
) -> DrainStats:
    """Land every message of the DLQ in quarantine (`dead_lettered`) and each valid one also as an event;
    ack each batch after its write."""
    rabbit = settings.rabbitmq
    target = store if store is not None else open_store(settings.bronze)
    names = live_names(f"dlq-{socket.gethostname().split('.')[0]}-{uuid.uuid4().hex[:8]}")
    stats = DrainStats()
    if dead_letter_depth(rabbit) == 0:
        log.info("dead_letters.drained", queue=rabbit.dead_letter_queue, **stats.as_log())
        return stats
    connection = connect(rabbit)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=batch_size)
        batch: list[Incoming] = []
        taken = 0
        last_tag = 0
        for method, properties, body in channel.consume(
            rabbit.dead_letter_queue, inactivity_timeout=idle_seconds
        ):
            if method is not None:
                batch.extend(dead_letter_lines(body, dead_letter_meta(method, properties)))
                taken += 1
                last_tag = method.delivery_tag
            if batch and (method is None or taken >= batch_size):
                counts = land(target, batch, source="live", name_factory=names)  # durable when it returns
                channel.basic_ack(delivery_tag=last_tag, multiple=True)
                stats.counts.add(counts)
                stats.batches += 1
                stats.dead_letters += taken
                stats.recovered += len(batch) - taken
                log.info(
                    "dead_letters.batch",
                    batch=stats.batches,
                    dead_letters=taken,
                    recovered=len(batch) - taken,
                    **counts.as_log(),
                )
                batch, taken = [], 0
            if method is None:
                break
        channel.cancel()  # unacked prefetched messages (none: every batch was acked) go back
    finally:
        if connection.is_open:
            connection.close()
    log.info("dead_letters.drained", queue=rabbit.dead_letter_queue, **stats.as_log())
    return stats
