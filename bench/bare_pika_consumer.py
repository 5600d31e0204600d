"""Baseline for bench_consume.py: a bare pika consumer that only acks (as fast as a Python consumer goes).

prefetch 1000, multi-ack every 1000 deliveries, stops after `expected` messages or when the queue is empty
(message_count 0 and no delivery for `idle` seconds); timed from the first to the last delivery.
Prints one JSON line: {"messages": n, "seconds": s, "msg_per_s": r}.
Usage: bare_pika_consumer.py <amqp url> <queue> [expected messages]
"""

from __future__ import annotations

import json
import sys
import time

import pika

PREFETCH = 1000
ACK_EVERY = 1000


def consume(url: str, queue: str, expected: int | None = None, idle: float = 1.0) -> dict[str, float]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    state = {"n": 0, "unacked": 0, "last_tag": 0, "start": 0.0, "last": time.perf_counter()}

    def on_message(
        ch: pika.adapters.blocking_connection.BlockingChannel, method: object, _props: object, _body: bytes
    ) -> None:
        if state["n"] == 0:
            state["start"] = time.perf_counter()
        state["n"] += 1
        state["unacked"] += 1
        state["last_tag"] = method.delivery_tag  # type: ignore[attr-defined]
        state["last"] = time.perf_counter()
        if state["unacked"] >= ACK_EVERY:
            ch.basic_ack(state["last_tag"], multiple=True)
            state["unacked"] = 0
        if expected is not None and state["n"] >= expected:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    while True:
        connection.process_data_events(time_limit=0.2)
        if expected is not None and state["n"] >= expected:
            break
        idle_now = time.perf_counter() - state["last"] > idle
        if idle_now and channel.queue_declare(queue, passive=True).method.message_count == 0:
            break
    end = state["last"]  # the last delivery, so the idle wait is not counted
    if state["unacked"]:
        channel.basic_ack(state["last_tag"], multiple=True)
    connection.close()
    seconds = end - state["start"] if state["n"] else 0.0
    return {"messages": state["n"], "seconds": seconds, "msg_per_s": state["n"] / seconds if seconds else 0.0}


if __name__ == "__main__":
    result = consume(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
    print(json.dumps(result))
