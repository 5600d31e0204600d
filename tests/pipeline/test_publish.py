"""`cardpipe publish` against the real RabbitMQ: exactly the generated events arrive, confirmed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pika
import pytest
from cardpipe.commands.publish import command
from cardpipe.config import RabbitSettings, get_settings
from cardpipe.generator import Rates, generate
from cardpipe.generator.stream import GeneratedEvent
from cardpipe.publisher import CONTENT_TYPE, PublishError, publish_events
from cardpipe.sources.rabbit import routing_key
from click.testing import CliRunner

pytestmark = pytest.mark.integration


def drain(
    settings: RabbitSettings, queue: str | None = None
) -> list[tuple[pika.spec.BasicProperties, bytes, str]]:
    """Read every message of the queue with basic_get (acked, so the queue ends empty)."""
    conn = pika.BlockingConnection(pika.URLParameters(settings.url))
    ch = conn.channel()
    out = []
    while True:
        method, props, body = ch.basic_get(queue or settings.queue, auto_ack=True)
        if method is None:
            break
        out.append((props, body, method.routing_key))
    conn.close()
    return out


def test_publish_delivers_exactly_the_generated_events(rabbit_settings: RabbitSettings) -> None:
    events = list(generate("live", 600, seed=11, rates=Rates(duplicate=0.05, malformed=0.03)))
    progress: list[int] = []
    stats = publish_events(
        rabbit_settings, events, window=64, on_progress=lambda s: progress.append(s.confirmed)
    )
    assert (stats.messages, stats.confirmed, stats.nacked, stats.returned) == (600, 600, 0, 0)
    assert progress == sorted(progress) and progress[-1] == 600
    assert len(progress) < 600, "the broker acks several messages at once"
    received = drain(rabbit_settings)
    assert [body for _, body, _ in received] == [e.body for e in events]
    assert [props.message_id for props, _, _ in received] == [e.event_id for e in events]
    for (props, _, key), event in zip(received, events, strict=True):
        assert props.delivery_mode == 2
        assert props.content_type == CONTENT_TYPE
        assert props.type == event.event_type
        assert key == (routing_key(event.event_type) if event.event_type else "unknown")
    ids = Counter(e.event_id for e in events if e.event_id)
    assert any(n == 2 for n in ids.values()), "duplicates are published as they were generated"


@pytest.fixture
def rabbit_env(rabbit_settings: RabbitSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[RabbitSettings]:
    for name, value in (
        ("RABBITMQ_URL", rabbit_settings.url),
        ("RABBITMQ_EXCHANGE", rabbit_settings.exchange),
        ("RABBITMQ_QUEUE", rabbit_settings.queue),
        ("RABBITMQ_DEAD_LETTER_EXCHANGE", rabbit_settings.dead_letter_exchange),
        ("RABBITMQ_DEAD_LETTER_QUEUE", rabbit_settings.dead_letter_queue),
    ):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield rabbit_settings
    get_settings.cache_clear()


def test_publish_command_publishes_the_live_stream(rabbit_env: RabbitSettings) -> None:
    result = CliRunner().invoke(command, ["--events", "300", "--seed", "4", "--window", "50"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    ids = [props.message_id for props, _, _ in drain(rabbit_env)]
    assert ids == [e.event_id for e in generate("live", 300, seed=4)]


def _private_queue(settings: RabbitSettings, **arguments: object) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(settings.url))
    ch = conn.channel()
    ch.exchange_declare(settings.exchange, exchange_type="topic", durable=True)
    if arguments:
        ch.queue_declare(settings.queue, durable=True, arguments=arguments)
        ch.queue_bind(settings.queue, settings.exchange, routing_key="#")
    conn.close()


def test_nacked_messages_are_republished_until_confirmed(rabbit_settings: RabbitSettings) -> None:
    """A full queue with overflow=reject-publish nacks; a slow reader frees room; all arrive once drained."""
    _private_queue(rabbit_settings, **{"x-max-length": 20, "x-overflow": "reject-publish"})
    events = list(generate("live", 200, seed=2, rates=Rates(0, 0, 0)))
    received: list[bytes] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            received.extend(body for _, body, _ in drain(rabbit_settings))
            time.sleep(0.05)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        stats = publish_events(rabbit_settings, events, window=50, declare=False, max_attempts=100_000)
    finally:
        done.set()
        thread.join()
    received.extend(body for _, body, _ in drain(rabbit_settings))
    assert stats.nacked > 0
    assert stats.confirmed == 200
    assert sorted(received) == sorted(e.body for e in events)


def test_unroutable_messages_are_republished_then_fail(rabbit_settings: RabbitSettings) -> None:
    """An exchange without a bound queue returns every message; after max_attempts the run fails."""
    _private_queue(rabbit_settings)
    events = list(generate("live", 5, seed=2, rates=Rates(0, 0, 0)))
    with pytest.raises(PublishError, match="refused message"):
        publish_events(rabbit_settings, events, window=5, declare=False, max_attempts=3)


def test_unreachable_broker_fails_fast_with_advice() -> None:
    settings = RabbitSettings(url="amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(Exception, match="RabbitMQ is not reachable"):
        publish_events(settings, [])


def test_empty_stream_returns_at_once(rabbit_settings: RabbitSettings) -> None:
    stats = publish_events(rabbit_settings, iter([]))
    assert (stats.messages, stats.confirmed) == (0, 0)
    assert drain(rabbit_settings) == []


def test_broker_closing_the_channel_fails_the_run_with_advice(rabbit_settings: RabbitSettings) -> None:
    """The exchange disappears mid-run: the channel is closed (404), publish raises instead of hanging."""
    _private_queue(rabbit_settings, **{"x-queue-type": "classic"})
    events = list(generate("live", 400, seed=2, rates=Rates(0, 0, 0)))

    def source() -> Iterator[GeneratedEvent]:
        for index, event in enumerate(events):
            if index == 100:
                conn = pika.BlockingConnection(pika.URLParameters(rabbit_settings.url))
                conn.channel().exchange_delete(rabbit_settings.exchange)
                conn.close()
            yield event

    with pytest.raises(PublishError, match="closed the publishing channel"):
        publish_events(rabbit_settings, source(), window=10, declare=False)
