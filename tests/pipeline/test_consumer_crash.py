"""`cardpipe consume` as a process: SIGKILL mid-batch loses nothing; SIGTERM flushes, acks and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cardpipe.bronze.store import LocalStore
from cardpipe.config import RabbitSettings

from .test_consumer import publish, queue_depth
from .test_landing import read_lines, valid_events

CARDPIPE = str(Path(sys.executable).with_name("cardpipe"))


def consumer_env(rabbit: RabbitSettings, bronze_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "BRONZE_", "BATCH_"))}
    env.update(
        RABBITMQ_URL=rabbit.url,
        RABBITMQ_EXCHANGE=rabbit.exchange,
        RABBITMQ_QUEUE=rabbit.queue,
        RABBITMQ_DEAD_LETTER_EXCHANGE=rabbit.dead_letter_exchange,
        RABBITMQ_DEAD_LETTER_QUEUE=rabbit.dead_letter_queue,
        BRONZE_BACKEND="local",
        BRONZE_DIR=str(bronze_dir),
        CARDPIPE_LOG_FORMAT="json",
        **extra,
    )
    return env


def start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    # Own session: a SIGKILL of the group takes the landing worker process down too (a real crash).
    return subprocess.Popen(
        [CARDPIPE, "consume", *args], env=env, cwd=cwd, stderr=subprocess.PIPE, start_new_session=True
    )


def wait_for(predicate: object, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_batch_then_restart_loses_nothing(
    rabbit_settings: RabbitSettings, tmp_path: Path
) -> None:
    events = valid_events(1500)
    publish(rabbit_settings, list(events.values()))
    bronze = tmp_path / "bronze"
    store = LocalStore(bronze)
    env = consumer_env(rabbit_settings, bronze, BATCH_MAX_EVENTS="50", RABBITMQ_PREFETCH="200")

    proc = start(env, tmp_path)
    # Kill once a few batches are durable, i.e. in the middle of the stream and of some batch.
    assert wait_for(lambda: len(list(store.list("raw/events/"))) >= 6 or proc.poll() is not None)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    landed_before = {line["event_id"] for line in read_lines(store, "raw/events/")}
    assert 0 < len(landed_before) < len(events), "the kill should land mid-stream"

    proc = start(env, tmp_path, "--until-idle", "--idle-seconds", "1")
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr.decode()[-2000:]

    lines = read_lines(store, "raw/events/")
    assert {line["event_id"] for line in lines} == set(events)  # at least once: duplicates allowed
    assert len(lines) >= len(events)
    assert any(line["ingest"]["redelivered"] for line in lines)  # unacked ones came back redelivered
    assert queue_depth(rabbit_settings) == 0
    # A write cut by SIGKILL may leave a hidden temp file; it is never an object (store.list skips it)
    # and every listed object decompressed completely above (read_lines).


def test_sigterm_flushes_acks_and_exits_zero(rabbit_settings: RabbitSettings, tmp_path: Path) -> None:
    events = valid_events(80)
    publish(rabbit_settings, list(events.values()))
    bronze = tmp_path / "bronze"
    store = LocalStore(bronze)
    # Bounds the batch can never reach on its own: only the shutdown flush can write it.
    env = consumer_env(
        rabbit_settings,
        bronze,
        BATCH_MAX_EVENTS="100000",
        BATCH_MAX_AGE_SECONDS="3600",
        RABBITMQ_PREFETCH="1000",
    )

    proc = start(env, tmp_path)
    assert wait_for(lambda: queue_depth(rabbit_settings) == 0 or proc.poll() is not None)
    time.sleep(0.5)  # the deliveries reach the consumer's current batch
    assert proc.poll() is None
    assert not list(store.list("raw/"))  # nothing flushed yet
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert sorted(line["event_id"] for line in read_lines(store, "raw/events/")) == sorted(events)
    time.sleep(0.5)
    assert queue_depth(rabbit_settings) == 0  # acked: nothing was requeued when the connection closed
    assert b"consume.done" in stderr
