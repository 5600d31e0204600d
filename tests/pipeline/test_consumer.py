"""The live consumer against the real RabbitMQ: every event lands, and nothing is acked before its write."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pika
import pytest
from cardpipe.bronze.store import LocalStore, open_store
from cardpipe.config import BatchSettings, BronzeSettings, RabbitSettings, Settings
from cardpipe.errors import ServiceUnavailable
from cardpipe.ingest.consumer import run_consumer
from cardpipe.sources.rabbit import declare_topology, routing_key

from .test_landing import poison_messages, read_lines, valid_events


def publish(rabbit: RabbitSettings, bodies: list[bytes], event_type: str = "order_placed") -> None:
    """Declare the topology and publish persistent messages with publisher confirms."""
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    ch = declare_topology(conn.channel(), rabbit)  # a new channel if the broker closed the first
    ch.confirm_delivery()
    for body in bodies:
        ch.basic_publish(
            rabbit.exchange, routing_key(event_type), body, pika.BasicProperties(delivery_mode=2)
        )
    conn.close()


def queue_depth(rabbit: RabbitSettings, queue: str | None = None) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    count: int = conn.channel().queue_declare(queue or rabbit.queue, passive=True).method.message_count
    conn.close()
    return count


def wait_depth(rabbit: RabbitSettings, expected: int, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    depth = queue_depth(rabbit)
    while depth != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        depth = queue_depth(rabbit)
    return depth


def make_settings(rabbit: RabbitSettings, bronze: BronzeSettings, tmp_path: Path, **batch: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        rabbitmq=rabbit,
        bronze=bronze,
        batch=BatchSettings(**{"max_events": 40, "max_age_seconds": 0.5, **batch}),
    )


def test_every_published_event_lands_once_per_delivery(
    rabbit_settings: RabbitSettings, bronze_settings: BronzeSettings, tmp_path: Path
) -> None:
    events = valid_events(150)
    publish(rabbit_settings, list(events.values()))
    settings = make_settings(rabbit_settings, bronze_settings, tmp_path)

    stats = run_consumer(settings, until_idle=True, idle_seconds=0.5, handle_signals=False)

    store = open_store(bronze_settings)
    lines = read_lines(store, "raw/events/source=live/")
    assert sorted(line["event_id"] for line in lines) == sorted(events)
    assert all(line["ingest"]["redelivered"] is False for line in lines)
    assert {line["ingest"]["routing_key"] for line in lines} == {"order.order_placed"}
    assert stats.counts.events == stats.messages == 150
    assert stats.batches >= 150 // 40
    assert queue_depth(rabbit_settings) == 0


def test_worker_process_mode_lands_everything(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    events = valid_events(120)
    publish(rabbit_settings, list(events.values()))
    settings = make_settings(rabbit_settings, local_bronze, tmp_path, max_events=25)

    stats = run_consumer(settings, until_idle=True, idle_seconds=0.5, workers=1, handle_signals=False)

    lines = read_lines(open_store(local_bronze), "raw/events/")
    assert sorted(line["event_id"] for line in lines) == sorted(events)
    assert stats.counts.events == 120
    assert queue_depth(rabbit_settings) == 0


def test_worker_write_failure_acks_nothing(rabbit_settings: RabbitSettings, tmp_path: Path) -> None:
    events = valid_events(30)
    publish(rabbit_settings, list(events.values()))
    not_a_dir = tmp_path / "bronze-is-a-file"
    not_a_dir.write_bytes(b"")
    settings = make_settings(rabbit_settings, BronzeSettings(backend="local", dir=not_a_dir), tmp_path)

    with pytest.raises(OSError):
        run_consumer(settings, until_idle=True, idle_seconds=0.5, workers=1, handle_signals=False)

    assert wait_depth(rabbit_settings, 30) == 30


class FailingStore(LocalStore):
    """A store whose writes fail after `ok` successful puts."""

    def __init__(self, root: Path, ok: int = 0) -> None:
        super().__init__(root)
        self.ok = ok

    def put(self, key: str, data: bytes) -> None:
        if self.ok <= 0:
            raise OSError("simulated write failure")
        self.ok -= 1
        super().put(key, data)


def test_failed_write_acks_nothing(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    events = valid_events(60)
    publish(rabbit_settings, list(events.values()))
    settings = make_settings(rabbit_settings, local_bronze, tmp_path)

    with pytest.raises(OSError, match="simulated write failure"):
        run_consumer(
            settings,
            until_idle=True,
            idle_seconds=0.5,
            store=FailingStore(tmp_path / "b"),
            handle_signals=False,
        )

    # Every message is back in the queue (unacked -> requeued when the channel closed) ...
    assert wait_depth(rabbit_settings, 60) == 60
    # ... and a healthy consumer then lands all of them, flagged as redelivered.
    run_consumer(settings, until_idle=True, idle_seconds=0.5, handle_signals=False)
    lines = read_lines(open_store(local_bronze), "raw/events/")
    assert sorted(line["event_id"] for line in lines) == sorted(events)
    assert all(line["ingest"]["redelivered"] is True for line in lines)


def test_failure_after_some_batches_keeps_only_the_unwritten_in_the_queue(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    events = valid_events(100)  # two event types per batch -> two objects per batch
    publish(rabbit_settings, list(events.values()))
    settings = make_settings(rabbit_settings, local_bronze, tmp_path, max_events=20)
    store = FailingStore(Path(local_bronze.dir), ok=4)  # two batches (40 messages) succeed

    with pytest.raises(OSError):
        run_consumer(settings, until_idle=True, idle_seconds=0.5, store=store, handle_signals=False)

    assert wait_depth(rabbit_settings, 60) == 60
    landed = {line["event_id"] for line in read_lines(store, "raw/events/")}
    assert len(landed) == 40
    run_consumer(settings, until_idle=True, idle_seconds=0.5, handle_signals=False)
    all_lines = read_lines(open_store(local_bronze), "raw/events/")
    assert {line["event_id"] for line in all_lines} == set(events)


def test_quarantine_does_not_block_and_is_acked(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    poison = poison_messages()
    events = valid_events(30)
    publish(rabbit_settings, list(poison.values()) + list(events.values()))
    settings = make_settings(rabbit_settings, local_bronze, tmp_path)

    stats = run_consumer(settings, until_idle=True, idle_seconds=0.5, handle_signals=False)

    assert stats.counts.quarantined == dict.fromkeys(poison, 1)
    assert queue_depth(rabbit_settings) == 0
    assert queue_depth(rabbit_settings, rabbit_settings.dead_letter_queue) == 0


def test_unreachable_broker_fails_fast_with_advice(local_bronze: BronzeSettings, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rabbit = RabbitSettings(url=f"amqp://guest:guest@127.0.0.1:{port}/%2F")
    settings = Settings(data_dir=tmp_path, rabbitmq=rabbit, bronze=local_bronze)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="RABBITMQ_URL"):
        run_consumer(settings, until_idle=True, handle_signals=False)
    assert time.monotonic() - started < 30
