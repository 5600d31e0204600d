"""Publish events to RabbitMQ with asynchronous publisher confirms (pika SelectConnection).

BlockingChannel.confirm_delivery makes every basic_publish wait for its own ack (one round trip per
message). Here up to `window` messages are in flight; the broker acks them in batches (`multiple`),
and each ack frees room for more. Nacked and returned (unroutable) messages are published again,
and `publish_events` returns only once every message has been confirmed: at-least-once delivery.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pika.channel
import pika.frame
import pika.spec

from cardpipe.config import RabbitSettings
from cardpipe.errors import ServiceUnavailable, rabbit_unreachable, redact_url
from cardpipe.generator.stream import GeneratedEvent
from cardpipe.sources.rabbit import connect, declare_topology, routing_key

CONTENT_TYPE = "application/x-protobuf"
DEFAULT_WINDOW = 2000
MAX_ATTEMPTS = 10
UNKNOWN_ROUTING_KEY = "unknown"


class PublishError(ServiceUnavailable):
    """The broker closed the connection or kept refusing a message before every message was confirmed."""


@dataclass
class PublishStats:
    messages: int = 0  # distinct messages taken from the source
    confirmed: int = 0  # messages acked by the broker (and not returned)
    nacked: int = 0
    returned: int = 0
    seconds: float = 0.0

    @property
    def republished(self) -> int:
        return self.nacked + self.returned

    @property
    def msg_per_s(self) -> float:
        return self.confirmed / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class _Message:
    event: GeneratedEvent
    attempts: int = 0


def message_properties(event: GeneratedEvent) -> pika.BasicProperties:
    return pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type=CONTENT_TYPE,
        message_id=event.event_id,
        type=event.event_type,
    )


def message_routing_key(event: GeneratedEvent) -> str:
    return routing_key(event.event_type) if event.event_type else UNKNOWN_ROUTING_KEY


class _AsyncPublisher:
    """One connection, one confirm-mode channel, a sliding window of unconfirmed messages."""

    def __init__(
        self,
        settings: RabbitSettings,
        events: Iterable[GeneratedEvent],
        window: int,
        on_progress: Callable[[PublishStats], None] | None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.max_attempts = max_attempts
        self.settings = settings
        self.source: Iterator[GeneratedEvent] = iter(events)
        self.source_done = False
        self.window = window
        self.on_progress = on_progress
        self.stats = PublishStats()
        self.retry: deque[_Message] = deque()
        self.outstanding: OrderedDict[int, _Message] = OrderedDict()  # delivery tag -> message
        self.returned: Counter[bytes] = Counter()  # bodies returned, awaiting their ack
        self.next_tag = 1
        self.channel: pika.channel.Channel | None = None
        self.error: BaseException | None = None
        self.finished = False
        params = pika.URLParameters(settings.url)
        params.connection_attempts = 1
        params.socket_timeout = 5
        self.connection = pika.SelectConnection(
            params,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_connection_closed,
        )

    def run(self) -> PublishStats:
        start = time.perf_counter()
        self.connection.ioloop.start()
        self.stats.seconds = time.perf_counter() - start
        if self.error is not None:
            raise self.error
        return self.stats

    # ------------------------------------------------------------------ connection lifecycle

    def _on_open_error(self, _conn: Any, exc: BaseException) -> None:
        self.error = rabbit_unreachable(self.settings.url, exc)
        self.connection.ioloop.stop()

    def _on_connection_open(self, _conn: Any) -> None:
        self.connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._publish_more())

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        if not self.finished and self.error is None:
            self.error = PublishError(
                f"RabbitMQ closed the publishing channel ({reason}) with {len(self.outstanding)} messages "
                "unconfirmed: check the exchange exists and the user may publish to it, then re-run "
                "(duplicates are removed downstream)"
            )
        if self.connection.is_open:
            self.connection.close()

    def _on_connection_closed(self, _conn: Any, reason: BaseException) -> None:
        if not self.finished and self.error is None:
            self.error = PublishError(
                f"lost the connection to RabbitMQ at {redact_url(self.settings.url)} ({reason}) with "
                f"{len(self.outstanding)} messages unconfirmed: re-run the publish "
                "(duplicates are removed downstream)"
            )
        self.connection.ioloop.stop()

    # ------------------------------------------------------------------ publishing

    def _next_message(self) -> _Message | None:
        if self.retry:
            return self.retry.popleft()
        if self.source_done:
            return None
        event = next(self.source, None)
        if event is None:
            self.source_done = True
            return None
        self.stats.messages += 1
        return _Message(event)

    def _publish_more(self) -> None:
        channel = self.channel
        assert channel is not None
        exchange = self.settings.exchange
        while len(self.outstanding) < self.window:
            message = self._next_message()
            if message is None:
                break
            message.attempts += 1
            if message.attempts > self.max_attempts:
                self.error = PublishError(
                    f"RabbitMQ refused message {message.event.event_id} {self.max_attempts} times "
                    f"(exchange {exchange!r}): check its bindings and the broker's alarms"
                )
                self.connection.close()
                return
            event = message.event
            channel.basic_publish(
                exchange, message_routing_key(event), event.body, message_properties(event), mandatory=True
            )
            self.outstanding[self.next_tag] = message
            self.next_tag += 1
        if self.source_done and not self.retry and not self.outstanding:
            self.finished = True
            self.connection.close()

    def _on_return(
        self, _channel: Any, _method: pika.spec.Basic.Return, _props: pika.BasicProperties, body: bytes
    ) -> None:
        # basic.return always precedes the message's ack: remember the body, republish on the ack
        self.returned[body] += 1

    def _on_confirm(self, frame: pika.frame.Method[Any]) -> None:
        method = frame.method
        nack = isinstance(method, pika.spec.Basic.Nack)
        tag: int = method.delivery_tag
        if method.multiple:
            tags = []
            for pending in self.outstanding:
                if pending > tag:
                    break
                tags.append(pending)
        else:
            tags = [tag]
        for done in tags:
            message = self.outstanding.pop(done)
            body = message.event.body
            if nack:
                self.stats.nacked += 1
                self.retry.append(message)
            elif self.returned[body] > 0:
                self.returned[body] -= 1
                self.stats.returned += 1
                self.retry.append(message)
            else:
                self.stats.confirmed += 1
        if self.on_progress is not None:
            self.on_progress(self.stats)
        self._publish_more()


def publish_events(
    settings: RabbitSettings,
    events: Iterable[GeneratedEvent],
    *,
    window: int = DEFAULT_WINDOW,
    on_progress: Callable[[PublishStats], None] | None = None,
    declare: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
) -> PublishStats:
    """Declare the topology, then publish every event as a persistent message and wait for all confirms.

    A message nacked or returned `max_attempts` times fails the run (PublishError).
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if declare:
        conn = connect(settings)
        try:
            declare_topology(conn.channel(), settings)
        finally:
            conn.close()
    return _AsyncPublisher(settings, events, window, on_progress, max_attempts).run()
