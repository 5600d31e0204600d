"""The topology dead-letters at-least-once (x-dead-letter-strategy with x-overflow reject-publish, values from
names.py); a queue declared before that is recognised (406) and the error names the policy that fixes it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pika
import pika.exceptions
import pytest
from cardpipe.bronze.store import open_store
from cardpipe.config import BronzeSettings, RabbitSettings
from cardpipe.contracts import names
from cardpipe.ingest.consumer import run_consumer
from cardpipe.sources.rabbit import (
    TopologyMismatch,
    declare_topology,
    legacy_queue_arguments,
    policy_fix,
    queue_arguments,
)
from support.servers import PrivateRabbit

from .test_consumer import make_settings, publish, queue_depth
from .test_landing import read_lines, valid_events


def _declare_legacy(rabbit: RabbitSettings) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    conn.channel().queue_declare(rabbit.queue, durable=True, arguments=legacy_queue_arguments(rabbit))
    conn.close()


def test_the_source_queue_is_declared_with_at_least_once_dead_lettering(
    rabbit_settings: RabbitSettings,
) -> None:
    assert queue_arguments(rabbit_settings) == names.source_queue_arguments(
        rabbit_settings.dead_letter_exchange, rabbit_settings.delivery_limit
    )
    assert queue_arguments(rabbit_settings)["x-dead-letter-strategy"] == "at-least-once"
    assert queue_arguments(rabbit_settings)["x-overflow"] == "reject-publish"
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_settings.url))
    try:
        declare_topology(conn.channel(), rabbit_settings)
        declare_topology(conn.channel(), rabbit_settings)  # idempotent
        # the broker holds exactly these arguments: the pre-at-least-once ones are refused
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            conn.channel().queue_declare(
                rabbit_settings.queue, durable=True, arguments=legacy_queue_arguments(rabbit_settings)
            )
        assert refused.value.reply_code == 406
    finally:
        if conn.is_open:
            conn.close()


def test_a_legacy_queue_keeps_consuming_and_the_strict_declaration_names_the_policy(
    rabbit_settings: RabbitSettings, local_bronze: BronzeSettings, tmp_path: Path
) -> None:
    _declare_legacy(rabbit_settings)
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_settings.url))
    try:
        with pytest.raises(TopologyMismatch, match="declared before at-least-once") as mismatch:
            declare_topology(conn.channel(), rabbit_settings, allow_legacy=False)
        assert "rabbitmqctl set_policy --apply-to queues" in str(mismatch.value)
        assert names.DEAD_LETTER_POLICY in str(mismatch.value)
    finally:
        if conn.is_open:
            conn.close()
    # consumers and publishers go on with the queue as it is (a warning names the fix)
    events = valid_events(10)
    publish(rabbit_settings, list(events.values()))
    stats = run_consumer(
        make_settings(rabbit_settings, local_bronze, tmp_path),
        until_idle=True,
        idle_seconds=0.5,
        handle_signals=False,
    )
    assert stats.counts.events == 10 and queue_depth(rabbit_settings) == 0
    assert {x["event_id"] for x in read_lines(open_store(local_bronze), "raw/events/")} == set(events)


def test_other_argument_differences_fail_with_the_migration_advice(rabbit_settings: RabbitSettings) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_settings.url))
    args = {**queue_arguments(rabbit_settings), "x-delivery-limit": rabbit_settings.delivery_limit + 1}
    conn.channel().queue_declare(rabbit_settings.queue, durable=True, arguments=args)
    try:
        with pytest.raises(TopologyMismatch, match="cannot change in place"):
            declare_topology(conn.channel(), rabbit_settings)
    finally:
        if conn.is_open:
            conn.close()


def test_the_documented_policy_command_applies_on_a_real_broker(tmp_path: Path) -> None:
    """The fix the error prints is run as printed on a private node with a legacy queue."""
    node = PrivateRabbit()
    node.start()
    try:
        rabbit = RabbitSettings(url=node.url)
        _declare_legacy(rabbit)
        command = policy_fix(rabbit).split("`")[1]
        args = shlex.split(command)
        assert args[0] == "rabbitmqctl"
        applied = node.ctl(*args[1:])
        assert applied.returncode == 0, applied.stderr
        listed = node.ctl("list_queues", "--formatter", "json", "name", "policy")
        (queue,) = [q for q in json.loads(listed.stdout) if q["name"] == rabbit.queue]
        assert queue["policy"] == names.DEAD_LETTER_POLICY  # in effect on the live queue, nothing redeclared
        policies = json.loads(node.ctl("list_policies", "--formatter", "json").stdout)
        (policy,) = [p for p in policies if p["name"] == names.DEAD_LETTER_POLICY]
        assert json.loads(policy["definition"]) == {
            "dead-letter-strategy": "at-least-once",
            "overflow": "reject-publish",
        }
    finally:
        node.close()
