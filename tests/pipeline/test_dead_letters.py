"""The dead-letter queue is read: its depth fails a check loudly, and the drain lands every dead-lettered
message in quarantine (reason dead_lettered, original bytes, x-death history) and each valid one also as a
live event, acked only after the write."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import duckdb
import pika
import pytest
from cardpipe.bronze.store import open_store
from cardpipe.cli import cli
from cardpipe.config import BronzeSettings, RabbitSettings, WarehouseSettings, get_settings
from cardpipe.ingest.dead_letters import (
    DeadLettersPending,
    check_dead_letters,
    dead_letter_depth,
    drain_dead_letters,
)
from cardpipe.load import run_load
from click.testing import CliRunner

from .test_consumer import FailingStore, make_settings, publish, queue_depth
from .test_consumer_crash import CARDPIPE, consumer_env
from .test_landing import read_lines, valid_events


def dead_letter(rabbit: RabbitSettings, bodies: list[bytes]) -> None:
    """Publish, then reject every message without requeue: the quorum queue dead-letters them."""
    publish(rabbit, bodies)
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    ch = conn.channel()
    for _ in bodies:
        method, _, _ = ch.basic_get(rabbit.queue)
        assert method is not None
        ch.basic_reject(method.delivery_tag, requeue=False)
    conn.close()
    deadline = time.monotonic() + 10
    while queue_depth(rabbit, rabbit.dead_letter_queue) < len(bodies) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_depth_check_fails_loudly_with_the_count_and_what_to_do(
    rabbit_settings: RabbitSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert dead_letter_depth(rabbit_settings) == 0  # the topology is not declared yet: nothing there
    dead_letter(rabbit_settings, list(valid_events(3).values()))

    assert dead_letter_depth(rabbit_settings) == 3
    with pytest.raises(DeadLettersPending, match=r"3 message\(s\) in the dead-letter queue") as pending:
        check_dead_letters(rabbit_settings)
    assert "cardpipe drain-dead-letters" in str(pending.value)

    for name, value in {
        "RABBITMQ_URL": rabbit_settings.url,
        "RABBITMQ_EXCHANGE": rabbit_settings.exchange,
        "RABBITMQ_QUEUE": rabbit_settings.queue,
        "RABBITMQ_DEAD_LETTER_EXCHANGE": rabbit_settings.dead_letter_exchange,
        "RABBITMQ_DEAD_LETTER_QUEUE": rabbit_settings.dead_letter_queue,
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(tmp_path / "bronze"),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        outcome = CliRunner().invoke(cli, ["drain-dead-letters", "--check"])
        assert outcome.exit_code == 1, outcome.output
        assert "3 message(s) in the dead-letter queue" in outcome.output
        outcome = CliRunner().invoke(cli, ["drain-dead-letters"])
        assert outcome.exit_code == 0, outcome.output
        assert "drained 3 dead-lettered message(s)" in outcome.output
        outcome = CliRunner().invoke(cli, ["drain-dead-letters", "--check"])
        assert outcome.exit_code == 0, outcome.output
    finally:
        get_settings.cache_clear()


def test_drain_lands_dead_letters_in_quarantine_with_bytes_and_x_death(
    rabbit_settings: RabbitSettings, bronze_settings: BronzeSettings, tmp_path: Path
) -> None:
    events = valid_events(7)
    bodies = [*events.values(), b"\x00 not an envelope"]
    dead_letter(rabbit_settings, bodies)
    settings = make_settings(rabbit_settings, bronze_settings, tmp_path)

    stats = drain_dead_letters(settings, batch_size=3)

    assert stats.dead_letters == 8 and stats.counts.quarantined == {"dead_lettered": 8}
    assert stats.recovered == 7 and stats.counts.events == 7  # the valid ones also land as live events
    assert stats.batches == 3
    lines = read_lines(open_store(bronze_settings), "raw/quarantine/source=live/reason=dead_lettered/")
    assert sorted(base64.b64decode(line["raw_b64"]) for line in lines) == sorted(bodies)
    assert {line["event_id"] for line in lines} - {None} == set(events)
    for line in lines:
        (death,) = line["ingest"]["headers"]["x-death"]
        assert death["reason"] == "rejected" and death["queue"] == rabbit_settings.queue
        assert line["detail"].startswith("dead-lettered: reason=rejected")
        assert line["ingest"]["routing_key"] == "order.order_placed"
    assert queue_depth(rabbit_settings, rabbit_settings.dead_letter_queue) == 0
    assert drain_dead_letters(settings).dead_letters == 0  # nothing left: a no-op


def test_drain_acks_nothing_it_could_not_write(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    dead_letter(rabbit_settings, list(valid_events(5).values()))
    settings = make_settings(rabbit_settings, local_bronze, tmp_path)

    with pytest.raises(OSError, match="simulated write failure"):
        drain_dead_letters(settings, store=FailingStore(tmp_path / "b"))

    assert queue_depth(rabbit_settings, rabbit_settings.dead_letter_queue) == 5
    assert drain_dead_letters(settings).counts.quarantined == {"dead_lettered": 5}


def test_consume_until_idle_says_when_dead_letters_are_pending(
    rabbit_settings: RabbitSettings, tmp_path: Path
) -> None:
    """`consume --until-idle` exits 0 once the live queue is drained (its own job), but no longer in silence
    while dead-lettered events, not in bronze, wait in the DLQ: it warns with the depth and the fix."""
    dead_letter(rabbit_settings, list(valid_events(2).values()))
    publish(rabbit_settings, list(valid_events(5).values()))
    done = subprocess.run(
        [CARDPIPE, "consume", "--until-idle", "--idle-seconds", "0.5", "--workers", "0"],
        env=consumer_env(rabbit_settings, tmp_path / "bronze"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (warning,) = [
        json.loads(line) for line in done.stderr.splitlines() if "consume.dead_letters_pending" in line
    ]
    assert warning["depth"] == 2
    assert "cardpipe drain-dead-letters" in warning["fix"]
    assert queue_depth(rabbit_settings) == 0


def test_a_valid_dead_lettered_event_reaches_raw_events_once_and_both_are_quarantined(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    """On RabbitMQ < 4.3 infrastructure trouble alone dead-letters valid events: the drain keeps the audit
    record of every message and lands a valid one as a normal live event too, so it reaches RAW (and the
    marts); the poison stays in quarantine only. The old drain landed the valid event in quarantine only."""
    (event_id, body), *_ = valid_events(1).items()
    poison = b"\x00 not an envelope"
    dead_letter(rabbit_settings, [body, poison])
    settings = make_settings(rabbit_settings, local_bronze, tmp_path).model_copy(
        update={"warehouse": WarehouseSettings(duckdb_path=tmp_path / "wh.duckdb")}
    )

    stats = drain_dead_letters(settings)
    assert (stats.dead_letters, stats.recovered) == (2, 1)
    assert stats.counts.events == 1 and stats.counts.quarantined == {"dead_lettered": 2}
    run_load(settings)  # what `cardpipe load` runs

    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        events = db.execute("select event_id, source from raw.events").fetchall()
        quarantined = db.execute("select reason, event_id, raw_b64 from raw.quarantine").fetchall()
    assert events == [(event_id, "live")]
    (line,) = read_lines(open_store(local_bronze), "raw/events/")  # RAW keeps no ingest fields: bronze does
    ingest = line["ingest"]
    assert ingest["dead_lettered"] is True and ingest["x_death"].startswith("dead-lettered: reason=rejected")
    assert sorted((r[0], base64.b64decode(r[2])) for r in quarantined) == sorted(
        [("dead_lettered", body), ("dead_lettered", poison)]
    )
    assert {r[1] for r in quarantined} == {event_id, None}
