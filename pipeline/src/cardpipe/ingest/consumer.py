"""The live consumer: RabbitMQ -> bronze (source=live) in micro-batches, at-least-once.

A batch is bounded by count, bytes and age (BatchSettings). It is written durably first and only then
acked with one `basic_ack(last_tag, multiple=True)`; quarantined messages ride in the same batch (they
land in the quarantine zone and are acked with it, so they never block the queue; every per-message step
is isolated, see `message_meta` and landing.build_lines). A failed write is retried with backoff; if it
still fails nothing of that batch is acked: the consumer stops with the error, the channel closes and
RabbitMQ redelivers every unacked message (the quorum queue's delivery limit dead-letters a message that
keeps crashing consumers). SIGTERM/SIGINT only set a flag; the main loop then stops consuming, flushes and
acks the current batch, and closes.

The broker going away (restart, network loss, a broker-side consumer cancel) does not end the run: the
consumer drops what it holds (delivered on the dead channel, so the broker redelivers it: at-least-once;
a tag of an old channel is never acked on a new one), reconnects with capped exponential backoff and
jitter, declares the topology and subscribes again. Only the very first connection fails fast.

With `workers=N` (the CLI default is 1) the decode + gzip of a batch runs in a worker process while this
process keeps receiving the next batch, so they overlap on several cores; the durable write of the built
objects then runs in a writer thread of this process (it waits on fsync or S3, not on the CPU), so the
worker is already building the next batch meanwhile. Acks still go out strictly in batch order, each only
after its batch's write returned (a finished write wakes the connection with pika's
`add_callback_threadsafe`). `workers=0` builds and writes inline in this process.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from types import FrameType
from typing import Any

import pika
import pika.exceptions
import pika.spec
from pika.adapters.blocking_connection import BlockingChannel

from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import BronzeSettings, Settings
from cardpipe.contracts.codec import Reason
from cardpipe.errors import ServiceUnavailable
from cardpipe.ingest.landing import (
    QUARANTINE_META,
    LandingCounts,
    PreparedBatch,
    build_objects,
    jsonable,
    live_names,
    utc_now,
    write_objects,
)
from cardpipe.logs import get_logger
from cardpipe.retry import backoff
from cardpipe.sources.rabbit import connect, declare_topology

log = get_logger("cardpipe.consume")

DEFAULT_IDLE_SECONDS = 5.0  # long enough for a publisher started alongside to connect
POLL_SECONDS = 0.1
# Bronze write failures (a store hiccup, an S3 5xx past botocore's own retries) are retried before the batch
# is given up (unacked, so redelivered).
WRITE_ATTEMPTS = 4
WRITE_BACKOFF_SECONDS = 0.25
WRITE_BACKOFF_MAX_SECONDS = 5.0
# Losing the broker (restart, network) reconnects with capped exponential backoff and jitter; an outage longer
# than this gives up (the process supervisor or Airflow retry takes over).
RECONNECT_BACKOFF_SECONDS = 0.5
RECONNECT_BACKOFF_MAX_SECONDS = 15.0
MAX_OUTAGE_SECONDS = 600.0
# Channel errors that reconnecting cannot cure: access refused, queue arguments differ (topology migration,
# raised as rabbit.TopologyMismatch, which is not retried either).
_PERMANENT_CHANNEL_CODES = frozenset({403, 406})


class _BrokerLost(Exception):
    """The connection or channel is gone (or the broker cancelled our consumer): reconnect."""


def _recoverable(exc: BaseException) -> bool:
    if isinstance(exc, _BrokerLost | pika.exceptions.AMQPConnectionError | ServiceUnavailable):
        return True
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker):
        return exc.reply_code not in _PERMANENT_CHANNEL_CODES
    return isinstance(exc, pika.exceptions.ChannelWrongStateError | pika.exceptions.ChannelClosed)


@dataclass
class ConsumeStats:
    """Totals of one consumer run."""

    counts: LandingCounts = field(default_factory=LandingCounts)
    batches: int = 0
    seconds: float = 0.0  # wall time of the run, connection set-up and idle wait included
    active_seconds: float = 0.0  # first delivery -> last ack: what msg/s is measured over

    @property
    def messages(self) -> int:
        return self.counts.messages

    @property
    def msg_per_s(self) -> float:
        return self.counts.messages / self.active_seconds if self.active_seconds > 0 else 0.0

    def as_log(self) -> dict[str, Any]:
        return {
            **self.counts.as_log(),
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "active_seconds": round(self.active_seconds, 3),
            "msg_per_s": round(self.msg_per_s, 1),
        }


@dataclass
class _Batch:
    bodies: list[bytes] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    last_tag: int = 0
    started: float = 0.0


def message_meta(method: pika.spec.Basic.Deliver) -> dict[str, Any]:
    """The ingest fields of one delivery. Never raises: a routing key that is not UTF-8 (pika then hands
    back bytes) or unreadable delivery fields mark the message for quarantine, with the raw value kept."""
    try:
        routing_key: Any = method.routing_key
        meta: dict[str, Any] = {"redelivered": bool(method.redelivered), "routing_key": routing_key}
        if not isinstance(routing_key, str):
            meta["routing_key"] = None
            meta["routing_key_raw"] = jsonable(routing_key)
            meta[QUARANTINE_META] = (Reason.INVALID_ROUTING_KEY, "the AMQP routing key is not UTF-8 text")
    except Exception as exc:
        return {
            "redelivered": None,
            "routing_key": None,
            QUARANTINE_META: (Reason.INVALID_PROPERTIES, f"unreadable delivery fields: {type(exc).__name__}"),
        }
    return meta


# --------------------------------------------------------------------------- landing (inline or worker)

# Batches being written at once (the writer threads of `_Lander`): one batch's fsyncs or S3 round trips
# overlap the next one's, each batch's own objects are put in parallel by landing.write_objects.
WRITER_THREADS = 2


def _worker_init() -> None:
    """Worker process: ignore SIGINT/SIGTERM sent to the whole group (the parent decides when to stop and
    lets running batches finish)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _build_batch(batch: _Batch, ingested_at: datetime, name: str) -> PreparedBatch:
    """Decode, validate and compress one live batch (pure: runs in a worker process or inline)."""
    messages = zip(batch.bodies, batch.metas, strict=True)
    return build_objects(messages, source="live", ingested_at=ingested_at, name=name)


def _write_batch(store: BronzeStore, prepared: PreparedBatch) -> LandingCounts:
    """Write a built batch durably, retrying with backoff; raises when it still fails (nothing is acked)."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            write_objects(store, prepared)  # rewriting an object already written is an idempotent overwrite
        except Exception as exc:
            if attempt == WRITE_ATTEMPTS:
                raise  # nothing of this batch is acked: the broker redelivers it
            delay = backoff(attempt, WRITE_BACKOFF_SECONDS, WRITE_BACKOFF_MAX_SECONDS)
            log.warning(
                "consume.write_retry",
                attempt=attempt,
                of=WRITE_ATTEMPTS,
                delay_s=round(delay, 3),
                error=f"{type(exc).__name__}: {exc}",
            )
            time.sleep(delay)
        else:
            break
    return prepared.counts


def _warm_up() -> int:
    return 0


class _Lander:
    """Builds batches inline or in worker processes, writes them, and hands back one future per batch that
    completes once the batch is durable."""

    def __init__(self, bronze: BronzeSettings, store: BronzeStore | None, workers: int) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._store = store if store is not None else open_store(bronze)
        if store is None and workers > 0:
            # forkserver, not fork: the pool and pika run threads, and forking a threaded process can
            # deadlock the child. Workers start once here (warm-up), before the broker connection.
            self._pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=get_context("forkserver"), initializer=_worker_init
            )
            self._pool.submit(_warm_up).result()
            self._writer = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="consume-write")

    def submit(self, batch: _Batch, ingested_at: datetime, name: str) -> Future[LandingCounts]:
        future: Future[LandingCounts] = Future()
        if self._pool is None:
            try:
                future.set_result(_write_batch(self._store, _build_batch(batch, ingested_at, name)))
            except Exception as exc:
                future.set_exception(exc)
            return future
        built = self._pool.submit(_build_batch, batch, ingested_at, name)
        built.add_done_callback(lambda done: self._write_when_built(done, future))
        return future

    def _write_when_built(self, built: Future[PreparedBatch], future: Future[LandingCounts]) -> None:
        """Runs in the pool's thread when a worker finished: hand the write to a writer thread."""
        assert self._writer is not None
        try:
            prepared = built.result()
            written = self._writer.submit(_write_batch, self._store, prepared)
        except BaseException as exc:  # the build failed, was cancelled, or the lander is closing
            future.set_exception(exc)
            return
        written.add_done_callback(lambda done: _settle(done, future))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._writer is not None:
            self._writer.shutdown(wait=True)


def _settle(source: Future[LandingCounts], target: Future[LandingCounts]) -> None:
    """Complete the batch's future from its write's: a result, the write error, or (never expected: the
    writer is shut down without cancelling) a cancellation, so `_collect` can never wait forever."""
    if source.cancelled():
        target.cancel()
        return
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


# --------------------------------------------------------------------------- the consumer


class Consumer:
    """One consumer connection; `run()` returns when stopped (signal, idle) and raises if a write failed."""

    def __init__(
        self,
        settings: Settings,
        *,
        until_idle: bool = False,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        store: BronzeStore | None = None,
        workers: int = 0,
        on_flush: Callable[[ConsumeStats], None] | None = None,
    ) -> None:
        self.settings = settings
        self.until_idle = until_idle
        self.idle_seconds = idle_seconds
        self.on_flush = on_flush
        self.consumer_id = f"{socket.gethostname().split('.')[0]}-{uuid.uuid4().hex[:8]}"
        self.names = live_names(self.consumer_id)
        self.stats = ConsumeStats()
        self._store = store
        self._workers = workers
        self._batch = _Batch()
        # (future, last delivery tag, messages, channel generation): a tag is only valid on its own channel
        self._inflight: deque[tuple[Future[LandingCounts], int, int, int]] = deque()
        self._generation = 0
        self._stopping = False
        self._stop_signal: int | None = None
        self._stop_logged = False
        self._cancelled = False
        self._connection_opened = False
        self.reconnects = 0
        self._received = 0
        self._first_delivery = 0.0
        self._last_message = time.monotonic()
        batch = settings.batch
        # The broker delivers at most `prefetch` unacked messages: a batch larger than what is left after
        # the batches still in flight could never fill up and would wait for its age bound each time.
        depth = 1 + max(workers, 0)
        self._max_events = max(1, min(batch.max_events, settings.rabbitmq.prefetch // depth))
        self._max_bytes = batch.max_bytes
        self._max_age = batch.max_age_seconds

    # signals ---------------------------------------------------------------------------------------

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal handler: only sets flags (no logging, no I/O: a handler may interrupt either); the main
        loop logs and stops."""
        self._stop_signal = signum
        self._stopping = True

    def _log_stopping(self) -> None:
        if self._stopping and not self._stop_logged:
            self._stop_logged = True
            signum = self._stop_signal
            log.info("consume.stopping", signal=signal.Signals(signum).name if signum else None)

    def _on_cancel(self, _frame: Any) -> None:
        """The broker cancelled our consumer (queue deleted, leader moved...): no more deliveries would come;
        the main loop reconnects and subscribes again."""
        self._cancelled = True

    # message path ----------------------------------------------------------------------------------

    def _on_message(
        self,
        _channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        _properties: pika.spec.BasicProperties,
        body: bytes,
    ) -> None:
        if not self._received:
            self._first_delivery = time.perf_counter()
        self._received += 1
        batch = self._batch
        if not batch.bodies:
            batch.started = time.monotonic()
        batch.bodies.append(body)
        batch.metas.append(message_meta(method))
        batch.size += len(body)
        batch.last_tag = method.delivery_tag
        if len(batch.bodies) >= self._max_events or batch.size >= self._max_bytes:
            self._flush()

    def _flush(self) -> None:
        """Hand the current batch to the lander; it is acked in `_collect` once its write returned."""
        batch = self._batch
        if not batch.bodies:
            return
        self._batch = _Batch()
        ingested_at = utc_now()
        future = self._lander.submit(batch, ingested_at, self.names(ingested_at))
        self._inflight.append((future, batch.last_tag, len(batch.bodies), self._generation))
        if not future.done():
            # Wake the connection's loop as soon as the worker is done (pika's thread-safe hand-off), so
            # the ack goes out at once rather than at the next poll.
            future.add_done_callback(self._wake)

    def _wake(self, _future: Future[LandingCounts]) -> None:
        """Runs in the pool's thread: only hands over to the connection's thread."""
        # If the connection is already closing, the shutdown path collects and acks (or not) itself.
        with contextlib.suppress(pika.exceptions.AMQPError):
            self._connection.add_callback_threadsafe(self._ack_ready)

    def _ack_ready(self) -> None:
        self._collect(self._channel, wait=False)

    def _collect(self, channel: BlockingChannel, *, wait: bool) -> None:
        """Ack finished batches strictly in order; a failed write raises before anything later is acked."""
        while self._inflight:
            future, last_tag, _n, generation = self._inflight[0]
            if not wait and not future.done():
                return
            counts = future.result()  # re-raises the write error: nothing of this batch gets acked
            if generation != self._generation:  # never ack a tag of an old channel (it means another message)
                self._inflight.popleft()
                continue
            channel.basic_ack(delivery_tag=last_tag, multiple=True)
            self._inflight.popleft()
            self.stats.counts.add(counts)
            self.stats.batches += 1
            self.stats.active_seconds = time.perf_counter() - self._first_delivery
            log.info("consume.flush", batch=self.stats.batches, last_tag=last_tag, **counts.as_log())
            if self.on_flush is not None:
                self.on_flush(self.stats)

    # main loop -------------------------------------------------------------------------------------

    def run(self) -> ConsumeStats:
        self._lander = _Lander(self.settings.bronze, self._store, self._workers)
        started = time.perf_counter()
        connected_once = False
        lost_since: float | None = None
        attempt = 0
        try:
            while True:
                try:
                    self._session()
                    break  # stopped or idle
                except Exception as exc:
                    if self._connection_opened:
                        connected_once = True
                    if not connected_once or not _recoverable(exc):
                        raise  # first connection failing: fail fast with advice (ServiceUnavailable)
                    now = time.monotonic()
                    if self._connection_opened or lost_since is None:
                        lost_since, attempt = now, 0
                    self._drop_session()
                    if self._stopping:
                        self._log_stopping()
                        break  # nothing held can be acked any more: the broker redelivers it
                    if now - lost_since > MAX_OUTAGE_SECONDS:
                        raise ServiceUnavailable(
                            f"the broker has been unreachable for {now - lost_since:.0f}s: giving up "
                            f"({type(exc).__name__}); unacked messages stay in the queue"
                        ) from exc
                    attempt += 1
                    delay = backoff(attempt, RECONNECT_BACKOFF_SECONDS, RECONNECT_BACKOFF_MAX_SECONDS)
                    log.warning(
                        "consume.reconnecting",
                        attempt=attempt,
                        delay_s=round(delay, 3),
                        error=f"{type(exc).__name__}: {exc}",
                        batches=self.stats.batches,
                    )
                    self._sleep(delay)
                    self.reconnects += 1
        finally:
            self._lander.close()
            self._close_connection()
            self.stats.seconds = time.perf_counter() - started
        log.info("consume.done", reconnects=self.reconnects, **self.stats.as_log())
        return self.stats

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop was requested."""
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def _drop_session(self) -> None:
        """After a lost connection: what we hold was delivered on the dead channel, so it can never be acked
        there; the broker redelivers it (at-least-once). Batches still being written finish in the
        background, but are never acked (their generation is old)."""
        held = len(self._batch.bodies) + sum(n for _f, _t, n, _g in self._inflight)
        self._batch = _Batch()
        self._inflight.clear()
        self._generation += 1
        self._close_connection()
        log.info("consume.session_dropped", unacked_messages=held)

    def _close_connection(self) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):
                connection.close()

    def _session(self) -> None:
        """One connection: subscribe and consume until stopped or idle; raises when the broker is lost."""
        self._connection_opened = False
        connection = self._connection = connect(self.settings.rabbitmq)
        self._connection_opened = True
        channel = self._channel = declare_topology(connection.channel(), self.settings.rabbitmq)
        channel.basic_qos(prefetch_count=self.settings.rabbitmq.prefetch)
        self._cancelled = False
        channel.add_on_cancel_callback(self._on_cancel)
        tag = channel.basic_consume(self.settings.rabbitmq.queue, self._on_message)
        log.info(
            "consume.start",
            queue=self.settings.rabbitmq.queue,
            consumer_id=self.consumer_id,
            store=self._store_name(),
            max_events=self._max_events,
            prefetch=self.settings.rabbitmq.prefetch,
            workers=self._workers,
            reconnects=self.reconnects,
        )
        self._last_message = time.monotonic()
        while not self._stopping:
            seen = self._received
            connection.process_data_events(time_limit=POLL_SECONDS)
            if self._cancelled:
                raise _BrokerLost("the broker cancelled the consumer")
            now = time.monotonic()
            if self._received != seen or self._inflight:
                self._last_message = now
            if self._batch.bodies and now - self._batch.started >= self._max_age:
                self._flush()
            self._collect(channel, wait=False)
            if self.until_idle and now - self._last_message >= self.idle_seconds and self._drained(channel):
                log.info("consume.idle", idle_seconds=self.idle_seconds)
                self._warn_dead_letters(channel)
                break
        self._log_stopping()
        # Stop deliveries, then land and ack what we hold; prefetched-but-unbatched messages are
        # requeued by the broker when the channel closes.
        if not self._cancelled:
            channel.basic_cancel(tag)
        self._flush()
        self._collect(channel, wait=True)
        channel.close()
        connection.close()

    def _drained(self, channel: BlockingChannel) -> bool:
        """Idle and nothing ready in the queue: flush, ack and report drained."""
        self._flush()
        self._collect(channel, wait=True)
        ok = channel.queue_declare(self.settings.rabbitmq.queue, passive=True)
        drained: bool = ok.method.message_count == 0
        if not drained:
            self._last_message = time.monotonic()
        return drained

    def _warn_dead_letters(self, channel: BlockingChannel) -> None:
        """The live queue is drained, but dead-lettered messages are not in bronze: say so at exit (the
        data_quality DAG and `drain-dead-letters --check` fail on it; this run did its own job)."""
        dead_letter_queue = self.settings.rabbitmq.dead_letter_queue
        ok = channel.queue_declare(dead_letter_queue, passive=True)  # declared by declare_topology
        depth: int = ok.method.message_count
        if depth:
            log.warning(
                "consume.dead_letters_pending",
                queue=dead_letter_queue,
                depth=depth,
                fix="cardpipe drain-dead-letters lands them in quarantine (reason dead_lettered)",
            )

    def _store_name(self) -> str:
        if self._store is not None:
            return self._store.describe()
        bronze = self.settings.bronze
        return (
            f"s3://{bronze.s3_bucket}/{bronze.s3_prefix}" if bronze.backend == "s3" else f"local:{bronze.dir}"
        )


def run_consumer(
    settings: Settings,
    *,
    until_idle: bool,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    store: BronzeStore | None = None,
    workers: int = 0,
    on_flush: Callable[[ConsumeStats], None] | None = None,
    handle_signals: bool = True,
) -> ConsumeStats:
    """Consume until stopped (SIGTERM/SIGINT) or, with `until_idle`, until the queue is drained.

    `store` overrides the configured bronze store (inline landing only); `workers=1` lands in a worker
    process, overlapping decode/gzip/write with receiving. Raises if a write fails (nothing unwritten is
    acked; RabbitMQ redelivers it).
    """
    consumer = Consumer(
        settings,
        until_idle=until_idle,
        idle_seconds=idle_seconds,
        store=store,
        workers=workers if store is None else 0,
        on_flush=on_flush,
    )
    previous: dict[int, Any] = {}
    if handle_signals:
        for signum in (signal.SIGTERM.value, signal.SIGINT.value):
            previous[signum] = signal.signal(signum, consumer.request_stop)
    try:
        return consumer.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
