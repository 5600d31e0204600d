"""Benchmark: `cardpipe consume --until-idle` vs a bare pika consumer (bare_pika_consumer.py), same data.

Publishes N realistic events once to a private exchange bound to two private quorum queues, drains one
with the bare consumer (prefetch 1000, multi-ack every 1000, nothing else) and the other with
`cardpipe consume --until-idle` (decode, validate, gzip NDJSON, durable write to a temporary local bronze,
then ack), prints both msg/s and the ratio (goal >= 0.75), and deletes what it created. `--repeat N`
runs the pair N times (publish, bare, cardpipe each time) and prints the median ratio: the machine is
shared, so only ratios measured side by side mean anything. `make bench-ingest` or
`.venv/bin/python bench/bench_consume.py --events 200000 --repeat 3`.
Both rates are measured inside each process, from its first delivery to its last ack (start-up and
the idle wait at the end are excluded for both).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
from cardpipe.config import RabbitSettings
from cardpipe.contracts.codec import encode_event
from cardpipe.sources.rabbit import declare_topology, routing_key
from google.protobuf.message import Message
from sportscards.catalog.v1 import catalog_pb2
from sportscards.common.v1.money_pb2 import Money
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

AMQP_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
POOL = 5000  # distinct payloads; each published event gets its own event_id and occurred_at


def payload(rnd: random.Random, i: int) -> tuple[str, Message]:
    """A realistic mix: mostly orders, some catalog and manufacturing events."""
    k = rnd.random()
    price = Money(
        currency_code="USD", units=rnd.randint(1, 500), nanos=rnd.choice([0, 990_000_000, 500_000_000])
    )
    if k < 0.45:
        lines = [
            orders_pb2.OrderLine(
                line_number=j + 1,
                sku=f"SKU-{rnd.randint(1, 5000):05d}",
                quantity=rnd.randint(1, 4),
                unit_price=price,
            )
            for j in range(rnd.randint(1, 3))
        ]
        return "order_placed", orders_pb2.OrderPlaced(
            order_id=f"ORD-{i:08d}",
            customer_id=f"CUST-{rnd.randint(1, 99999):05d}",
            channel=rnd.randint(1, 4),
            currency_code="USD",
            lines=lines,
        )
    if k < 0.75:
        return "order_status_changed", orders_pb2.OrderStatusChanged(
            order_id=f"ORD-{i:08d}", status=rnd.randint(1, 5)
        )
    if k < 0.85:
        card = catalog_pb2.Card(
            sku=f"SKU-{i % 5000:05d}",
            player_name="Ken Griffey Jr.",
            team="Seattle Mariners",
            sport=catalog_pb2.SPORT_BASEBALL,
            set_name="Upper Deck",
            set_year=1989,
            parallel="base",
            is_rookie=True,
            list_price=price,
        )
        if rnd.random() < 0.5:
            return "card_created", catalog_pb2.CardCreated(card=card)
        return "card_updated", catalog_pb2.CardUpdated(card=card)
    if k < 0.93:
        return "batch_started", manufacturing_pb2.BatchStarted(
            batch_id=f"B-{i:06d}", sku="SKU-00001", facility="plant-memphis", planned_units=500
        )
    return "batch_completed", manufacturing_pb2.BatchCompleted(
        batch_id=f"B-{i:06d}",
        sku="SKU-00001",
        facility="plant-memphis",
        planned_units=500,
        produced_units=490,
        defective_units=3,
    )


def publish(settings: RabbitSettings, extra_queue: str, n: int) -> None:
    rnd = random.Random(42)
    pool = [payload(rnd, i) for i in range(POOL)]
    conn = pika.BlockingConnection(pika.URLParameters(settings.url))
    ch = conn.channel()
    ch = declare_topology(ch, settings)  # a new channel when the broker closed the first (legacy queue)
    ch.queue_declare(extra_queue, durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_bind(extra_queue, settings.exchange, routing_key="#")
    props = pika.BasicProperties(delivery_mode=2, content_type="application/x-protobuf")
    now = datetime.now(UTC)
    started = time.perf_counter()
    for i in range(n):
        event_type, message = pool[i % POOL]
        body = encode_event(
            event_id=str(uuid.uuid4()),
            event_type=event_type,
            occurred_at=now - timedelta(milliseconds=(n - i) * 5),
            payload=message,
        )
        ch.basic_publish(settings.exchange, routing_key(event_type), body, props)
        if i and i % 50_000 == 0:
            print(f"  published {i:,} ({i / (time.perf_counter() - started):,.0f} msg/s)", flush=True)
    # No per-message confirms (slow in pika's blocking API): instead wait until both queues hold all n.
    deadline = time.monotonic() + 120
    for queue in (settings.queue, extra_queue):
        while ch.queue_declare(queue, passive=True).method.message_count < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"{queue} did not receive all {n} messages")
            time.sleep(0.5)
    conn.close()


def run_bare(queue: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE / "bare_pika_consumer.py"), AMQP_URL, queue, str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_cardpipe(
    settings: RabbitSettings, bronze: Path, workers: int, prefetch: int | None
) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "BRONZE_", "BATCH_"))}
    env.update(
        RABBITMQ_URL=settings.url,
        RABBITMQ_EXCHANGE=settings.exchange,
        RABBITMQ_QUEUE=settings.queue,
        RABBITMQ_DEAD_LETTER_EXCHANGE=settings.dead_letter_exchange,
        RABBITMQ_DEAD_LETTER_QUEUE=settings.dead_letter_queue,
        BRONZE_BACKEND="local",
        BRONZE_DIR=str(bronze),
        CARDPIPE_LOG_FORMAT="json",
    )
    if prefetch:
        env["RABBITMQ_PREFETCH"] = str(prefetch)
    out = subprocess.run(
        [str(BIN / "cardpipe"), "consume", "--until-idle", "--idle-seconds", "1", "--workers", str(workers)],
        env=env,
        cwd=bronze.parent,
        check=True,
        capture_output=True,
        text=True,
    )
    done = next(json.loads(line) for line in reversed(out.stderr.splitlines()) if '"consume.done"' in line)
    return {
        "messages": done["messages"],
        "seconds": done["active_seconds"],
        "msg_per_s": done["msg_per_s"],
        "quarantined": done["quarantined"],
        "objects": done["objects"],
    }


def cleanup(settings: RabbitSettings, extra_queue: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(settings.url))
    ch = conn.channel()
    for q in (settings.queue, settings.dead_letter_queue, extra_queue):
        ch.queue_delete(q)
    for x in (settings.exchange, settings.dead_letter_exchange):
        ch.exchange_delete(x)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", "200000")))
    parser.add_argument("--workers", type=int, default=1, help="cardpipe consume --workers")
    parser.add_argument(
        "--prefetch", type=int, default=None, help="RABBITMQ_PREFETCH for cardpipe (default: config)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="side-by-side runs; prints their median ratio")
    args = parser.parse_args()
    tag = f"bench.{uuid.uuid4().hex[:8]}"
    settings = RabbitSettings(
        url=AMQP_URL,
        exchange=f"{tag}.x",
        queue=f"{tag}.cardpipe",
        dead_letter_exchange=f"{tag}.dlx",
        dead_letter_queue=f"{tag}.dlq",
    )
    bare_queue = f"{tag}.bare"
    ratios: list[float] = []
    try:
        for run in range(1, args.repeat + 1):
            ratios.append(measure_pair(settings, bare_queue, args, run))
    finally:
        cleanup(settings, bare_queue)
    if len(ratios) > 1:
        median = statistics.median(ratios)
        print(
            f"median ratio of {len(ratios)} runs: {median:.2f} ({', '.join(f'{r:.2f}' for r in ratios)}; "
            f"goal >= 0.75) {'OK' if median >= 0.75 else 'BELOW GOAL'}; load average {load()}"
        )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure_pair(settings: RabbitSettings, bare_queue: str, args: argparse.Namespace, run: int) -> float:
    """One side-by-side measurement: publish to both queues, drain each, return cardpipe/bare."""
    print(f"run {run}: publishing {args.events:,} events to {settings.queue} and {bare_queue} …", flush=True)
    publish(settings, bare_queue, args.events)
    bare = run_bare(bare_queue, args.events)
    print(
        f"bare pika consumer : {bare['messages']:>9,.0f} msg in {bare['seconds']:6.2f}s = "
        f"{bare['msg_per_s']:>8,.0f} msg/s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-consume-") as tmp:
        ours = run_cardpipe(settings, Path(tmp) / "bronze", args.workers, args.prefetch)
    print(
        f"cardpipe consume   : {ours['messages']:>9,.0f} msg in {ours['seconds']:6.2f}s = "
        f"{ours['msg_per_s']:>8,.0f} msg/s ({ours['objects']} objects, {ours['quarantined']} quarantined)"
    )
    ratio = ours["msg_per_s"] / bare["msg_per_s"] if bare["msg_per_s"] else 0.0
    print(
        f"ratio cardpipe/bare: {ratio:.2f} (goal >= 0.75) {'OK' if ratio >= 0.75 else 'BELOW GOAL'}; "
        f"load average {load()}",
        flush=True,
    )
    return ratio


if __name__ == "__main__":
    main()
