"""The consumer survives the broker: a restart mid-stream, a broker-side cancel and store hiccups end with
every published event in bronze and the consumer still running (or exiting 0 at idle); signal handlers only
set a flag. The restart runs on a PRIVATE RabbitMQ node (tests/support/servers.py), never the shared one."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from cardpipe.bronze.store import LocalStore
from cardpipe.config import BronzeSettings, RabbitSettings
from cardpipe.ingest import consumer as consumer_module
from cardpipe.ingest.consumer import Consumer, ConsumeStats, run_consumer
from support.servers import PrivateRabbit

from .test_consumer import make_settings, publish, queue_depth
from .test_consumer_crash import CARDPIPE, consumer_env
from .test_landing import read_lines, valid_events


@pytest.fixture
def private_rabbit() -> Iterator[PrivateRabbit]:
    node = PrivateRabbit()
    node.start()
    try:
        yield node
    finally:
        node.close()


def test_broker_restart_mid_stream_loses_nothing_and_the_consumer_exits_0_at_idle(
    private_rabbit: PrivateRabbit, tmp_path: Path
) -> None:
    rabbit = RabbitSettings(url=private_rabbit.url, prefetch=200)
    events = valid_events(1500)
    publish(rabbit, list(events.values()))
    bronze = tmp_path / "bronze"
    env = consumer_env(rabbit, bronze, BATCH_MAX_EVENTS="50", BATCH_MAX_AGE_SECONDS="0.2")
    proc = subprocess.Popen(
        [CARDPIPE, "consume", "--until-idle", "--idle-seconds", "3", "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        store = LocalStore(bronze)
        deadline = time.monotonic() + 60
        while not list(store.list("raw/events/")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(store.list("raw/events/")), "the consumer landed nothing before the restart"
        private_rabbit.restart()  # stop + start the same node on the same data: durable messages survive
        more = valid_events(200)  # published after the restart: the reconnected consumer must take them too
        publish(rabbit, list(more.values()))
        _, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = stderr.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "consume.reconnecting" in log
    landed = {line["event_id"] for line in read_lines(LocalStore(bronze), "raw/events/")}
    assert landed == set(events) | set(more)  # deduplicated by event_id: redelivery may repeat, never lose
    assert queue_depth(rabbit) == 0


def _run_in_thread(consumer: Consumer) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["stats"] = consumer.run()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def _wait(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_broker_side_cancel_resubscribes_instead_of_idling_forever(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    first = valid_events(20)
    publish(rabbit_settings, list(first.values()))
    consumer = Consumer(make_settings(rabbit_settings, local_bronze, tmp_path), workers=0)
    thread, outcome = _run_in_thread(consumer)
    store = LocalStore(Path(local_bronze.dir))
    try:
        _wait(lambda: consumer.stats.counts.events == 20)
        conn = pika.BlockingConnection(pika.URLParameters(rabbit_settings.url))
        conn.channel().queue_delete(rabbit_settings.queue)  # the broker cancels every consumer of it
        conn.close()
        _wait(lambda: consumer.reconnects >= 1)
        second = valid_events(15)
        publish(rabbit_settings, list(second.values()))  # re-declared by the consumer on re-subscribe
        _wait(lambda: consumer.stats.counts.events == 35)
    finally:
        consumer.request_stop(signal.SIGTERM)
        thread.join(timeout=30)
    assert "error" not in outcome, outcome
    landed = {line["event_id"] for line in read_lines(store, "raw/events/")}
    assert landed == set(first) | set(second)


class FlakyStore(LocalStore):
    """Fails the first `failures` puts (a store hiccup), then works."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put(self, key: str, data: bytes) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("simulated transient write failure")
        super().put(key, data)


def test_transient_store_errors_are_retried_before_giving_up(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    events = valid_events(40)
    publish(rabbit_settings, list(events.values()))
    store = FlakyStore(tmp_path / "b", failures=2)

    stats = run_consumer(
        make_settings(rabbit_settings, local_bronze, tmp_path),
        until_idle=True,
        idle_seconds=0.5,
        store=store,
        handle_signals=False,
    )

    assert stats.counts.events == 40
    assert {line["event_id"] for line in read_lines(store, "raw/events/")} == set(events)
    assert queue_depth(rabbit_settings) == 0


def test_the_signal_handler_only_sets_a_flag(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path, monkeypatch: Any
) -> None:
    """Logging from a signal handler can deadlock (the handler may interrupt the logger holding its lock)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: calls.append((name, args))

    monkeypatch.setattr(consumer_module, "log", Recorder())
    consumer = Consumer(make_settings(rabbit_settings, local_bronze, tmp_path))
    consumer.request_stop(signal.SIGTERM, None)
    assert calls == []
    stats: ConsumeStats = consumer.run()  # the main loop sees the flag, logs and stops
    assert ("info", ("consume.stopping",)) in calls
    assert stats.messages == 0
