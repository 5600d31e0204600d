"""Poison messages of every kind are quarantined with their reason; valid messages behind them still land."""

from __future__ import annotations

import base64
from pathlib import Path

import pika
from cardpipe.bronze.store import open_store
from cardpipe.config import BronzeSettings, RabbitSettings
from cardpipe.ingest.consumer import run_consumer
from cardpipe.sources.rabbit import declare_topology
from sportscards.envelope.v1.envelope_pb2 import EventEnvelope

from .test_consumer import make_settings, publish, queue_depth
from .test_landing import poison_messages, read_lines, valid_events


def test_each_poison_kind_is_quarantined_and_valid_ones_behind_it_land(
    rabbit_settings: RabbitSettings, bronze_settings: BronzeSettings, tmp_path: Path
) -> None:
    poison = poison_messages()
    valid = valid_events(len(poison) * 4)
    valid_bodies = list(valid.values())
    # Interleave: each poison message is followed by valid ones, across several small batches.
    stream: list[bytes] = []
    for i, bad in enumerate(poison.values()):
        stream.append(bad)
        stream.extend(valid_bodies[i * 4 : (i + 1) * 4])
    publish(rabbit_settings, stream)
    settings = make_settings(rabbit_settings, bronze_settings, tmp_path, max_events=7)

    stats = run_consumer(settings, until_idle=True, idle_seconds=0.5, handle_signals=False)

    store = open_store(bronze_settings)
    quarantined = read_lines(store, "raw/quarantine/source=live/")
    by_reason = {line["reason"]: line for line in quarantined}
    assert sorted(by_reason) == sorted(poison) and len(quarantined) == len(poison)
    for reason, line in by_reason.items():
        assert base64.b64decode(line["raw_b64"]) == poison[reason]
        assert line["detail"]
        assert line["ingest"]["source"] == "live"
    for key in store.list("raw/quarantine/"):
        reason = key.split("/reason=", 1)[1].split("/", 1)[0]
        assert reason in poison
    assert by_reason["invalid_value"]["detail"] == "lines[0].quantity must be positive, got -3"
    assert by_reason["unknown_event_type"]["event_type"] == "card_traded"
    assert by_reason["undecodable"]["event_id"] is None
    assert sorted(line["event_id"] for line in read_lines(store, "raw/events/")) == sorted(valid)
    assert stats.counts.quarantined == dict.fromkeys(poison, 1)
    # Acked, not dead-lettered or stuck.
    assert queue_depth(rabbit_settings) == 0
    assert queue_depth(rabbit_settings, rabbit_settings.dead_letter_queue) == 0


def test_out_of_range_occurred_at_is_quarantined_not_a_crash(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    """A timestamp datetime cannot hold must not crash the consumer (it would be redelivered forever)."""
    envelopes = []
    for seconds, nanos in ((10**13, 0), (1_772_000_000, -5)):
        envelope = EventEnvelope()
        envelope.ParseFromString(valid_events(1).popitem()[1])
        envelope.occurred_at.seconds = seconds
        envelope.occurred_at.nanos = nanos
        envelopes.append(envelope.SerializeToString())
    good = valid_events(3)
    publish(rabbit_settings, [*envelopes, *good.values()])

    stats = run_consumer(
        make_settings(rabbit_settings, local_bronze, tmp_path),
        until_idle=True,
        idle_seconds=0.5,
        handle_signals=False,
    )

    assert stats.counts.quarantined == {"invalid_value": 2}
    lines = read_lines(open_store(local_bronze), "raw/quarantine/")
    assert all("occurred_at" in line["detail"] for line in lines)
    assert sorted(line["event_id"] for line in read_lines(open_store(local_bronze), "raw/events/")) == sorted(
        good
    )
    assert queue_depth(rabbit_settings) == 0


def test_routing_key_that_is_not_utf8_is_quarantined_and_the_rest_of_the_batch_lands(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    """pika hands a non-UTF-8 routing key back as bytes; it used to fail the whole batch's serialization, so
    the consumer crash-looped on it until the delivery limit dead-lettered the valid events too."""

    good = valid_events(10)
    bad_body = valid_events(1).popitem()[1]
    bad_key = b"order.\xff\xfe"
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_settings.url))
    ch = conn.channel()
    declare_topology(ch, rabbit_settings)
    ch.confirm_delivery()
    bodies = list(good.values())
    for body in [*bodies[:5], bad_body, *bodies[5:]]:
        key: str | bytes = bad_key if body is bad_body else "order.order_placed"
        ch.basic_publish(rabbit_settings.exchange, key, body, pika.BasicProperties(delivery_mode=2))
    conn.close()

    stats = run_consumer(  # in a worker process, the CLI default: the batch is pickled there
        make_settings(rabbit_settings, local_bronze, tmp_path),
        until_idle=True,
        idle_seconds=0.5,
        workers=1,
        handle_signals=False,
    )

    assert stats.counts.quarantined == {"invalid_routing_key": 1}
    assert stats.counts.events == 10

    store = open_store(local_bronze)
    (line,) = read_lines(store, "raw/quarantine/source=live/reason=invalid_routing_key/")
    assert base64.b64decode(line["raw_b64"]) == bad_body
    assert line["ingest"]["routing_key"] is None
    assert base64.b64decode(line["ingest"]["routing_key_raw"]["b64"]) == bad_key
    assert sorted(x["event_id"] for x in read_lines(store, "raw/events/")) == sorted(good)
    assert queue_depth(rabbit_settings) == 0
    assert queue_depth(rabbit_settings, rabbit_settings.dead_letter_queue) == 0
