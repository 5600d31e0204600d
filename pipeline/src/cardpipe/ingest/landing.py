"""Landing core: message bodies -> bronze gzip NDJSON objects (shared by the consumer, backfill and Lambda).

`build_objects` is pure (decode, build the documented lines, group by key, gzip); `write_objects` is the
only I/O. Callers ack or checkpoint only after `land`/`write_objects` returns, because `BronzeStore.put`
is durable when it returns. Object names come from a name factory, so live batches get unique names and
the backfill its deterministic ones (a re-run overwrites instead of duplicating).
"""

from __future__ import annotations

import binascii
import gc
import itertools
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from cardpipe.bronze.layout import Source, events_key, quarantine_key
from cardpipe.bronze.store import BronzeStore
from cardpipe.contracts.codec import DecodedEvent, Reason, Rejection, decode, format_ts

PUT_THREADS = 8

# Quarantine reasons, the landing path's included, are contracts.codec.Reason (one owner; dbt's
# accepted_values on raw.quarantine.reason is compared with it by tests/contract).
# Reserved ingest-metadata key: (reason, detail) makes build_lines quarantine the message whatever it
# decodes to (the consumer's bad routing key, the dead-letter drain).
QUARANTINE_META = "_quarantine"
# Level 1: about 3x faster than the default 6 for ~15% larger objects; ingestion speed matters more.
GZIP_LEVEL = 1

# One message to land: its body and the source-specific ingest fields (live: redelivered, routing_key;
# backfill: journal_seq, window_id). `source` and `ingested_at` are added by the landing core.
Incoming = tuple[bytes, Mapping[str, Any]]

# ingested_at of the batch -> object name (without the .ndjson.gz suffix).
NameFactory = Callable[[datetime], str]


@dataclass
class LandingCounts:
    """What a batch (or a whole run) landed; `bytes` is compressed bytes written."""

    messages: int = 0
    events: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    bytes: int = 0

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def add(self, other: LandingCounts) -> None:
        self.messages += other.messages
        self.events += other.events
        self.quarantined.update(other.quarantined)
        self.objects += other.objects
        self.bytes += other.bytes

    def as_log(self) -> dict[str, Any]:
        """Flat fields for a structured log line."""
        return {
            "messages": self.messages,
            "events": self.events,
            "quarantined": self.quarantined_total,
            "quarantined_by_reason": dict(self.quarantined),
            "objects": self.objects,
            "bytes": self.bytes,
        }


@dataclass
class PreparedBatch:
    """Serialized objects (key -> gzip bytes) ready to write, and their counts."""

    objects: dict[str, bytes]
    counts: LandingCounts


def live_names(consumer_id: str) -> NameFactory:
    """Name factory for live batches: `live-<ingested yyyymmddThhmmssZ>-<consumer id>-<batch seq>`."""
    seq = itertools.count(1)

    def name(ingested_at: datetime) -> str:
        return f"live-{ingested_at:%Y%m%dT%H%M%SZ}-{consumer_id}-{next(seq):06d}"

    return name


def utc_now() -> datetime:
    return datetime.now(UTC)


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of broker metadata (AMQP headers, routing keys): bytes that are not UTF-8 become
    `{"b64": ...}`, timestamps ISO text, anything else unknown its str(). Never raises."""
    result: Any
    if value is None or isinstance(value, bool | int | float | str):
        result = value
    elif isinstance(value, bytes | bytearray):
        try:
            result = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            result = {"b64": binascii.b2a_base64(bytes(value), newline=False).decode("ascii")}
    elif isinstance(value, Mapping):
        result = {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        result = [jsonable(v) for v in value]
    elif isinstance(value, datetime):
        result = value.isoformat()
    else:
        try:
            result = str(value)
        except Exception:
            result = f"<unprintable {type(value).__name__}>"
    return result


def _quarantine_record(
    reason: str, detail: str, decoded: DecodedEvent | Rejection | None, raw_b64: str, ingest: dict[str, Any]
) -> dict[str, Any]:
    return {
        "reason": reason,
        "detail": detail,
        "event_id": getattr(decoded, "event_id", None),
        "event_type": getattr(decoded, "event_type", None),
        "raw_b64": raw_b64,
        "ingest": ingest,
    }


def _rejected(
    decoded: DecodedEvent | Rejection,
    forced: Any,
    raw_b64: str,
    ingest: dict[str, Any],
    names: tuple[Source, str, datetime, str],
) -> tuple[str, str, dict[str, Any]]:
    """(reason, key, record) of a message the decoder rejected or the caller marked (`forced`)."""
    source, _, ingested_at, name = names
    if forced is not None:
        reason, detail = str(forced[0]), str(forced[1])
    else:
        assert isinstance(decoded, Rejection)
        reason, detail = str(decoded.reason), decoded.detail
    record = _quarantine_record(reason, detail, decoded, raw_b64, ingest)
    return reason, quarantine_key(source, reason, ingested_at, name), record


def _fallback_line(
    exc: Exception,
    *,
    body_b64: str,
    meta: Mapping[str, Any],
    forced: Any,
    decoded: DecodedEvent | Rejection | None,
    names: tuple[Source, str, datetime, str],
) -> tuple[str, str, bytes]:
    """The quarantine line of a message whose normal line could not be built: (reason, key, line)."""
    source, ingested_text, ingested_at, name = names
    reason = str(Reason.UNSERIALIZABLE if decoded is not None else Reason.UNDECODABLE)
    if isinstance(forced, tuple | list) and forced:
        reason = str(jsonable(forced[0]))
    detail = f"{type(exc).__name__}: {exc}"[:1000]
    try:
        extra = {str(k): v for k, v in meta.items() if k != QUARANTINE_META}
    except Exception:
        extra = {"meta": "<unreadable>"}
    ingest = {"source": source, "ingested_at": ingested_text, **jsonable(extra)}
    record = _quarantine_record(reason, detail, None, body_b64, ingest)
    if decoded is not None:
        record["event_id"] = jsonable(decoded.event_id)
        record["event_type"] = jsonable(decoded.event_type)
    return reason, quarantine_key(source, reason, ingested_at, name), orjson.dumps(record)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector over a batch's pure loop.

    Measured (docs in README "Performance"): each event allocates a few dozen short-lived objects, so the
    collector's generation-0 passes keep firing and each scans the batch's live containers, about a quarter
    of the loop's time. The loop creates no reference cycles (everything is freed by reference counting);
    the collector runs again as soon as the batch is built.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def build_lines(
    messages: Iterable[Incoming], *, source: Source, ingested_at: datetime, name: str
) -> tuple[dict[str, list[bytes]], LandingCounts]:
    """Decode every message into its bronze line (orjson bytes), grouped by object key. Pure.

    Each message is isolated: whatever fails for one (its metadata, the decoder, serialization) sends that
    message alone to quarantine with a reason and its original bytes, so it can never fail the batch.
    A caller that already knows a message is bad sets `meta[QUARANTINE_META] = (reason, detail)`.
    """
    with _gc_paused():
        return _build_lines(messages, source=source, ingested_at=ingested_at, name=name)


def _build_lines(
    messages: Iterable[Incoming], *, source: Source, ingested_at: datetime, name: str
) -> tuple[dict[str, list[bytes]], LandingCounts]:
    ingested_text = format_ts(ingested_at)
    dumps = orjson.dumps
    b64 = binascii.b2a_base64
    groups: dict[str, list[bytes]] = {}
    # Keys repeat for most messages of a batch: cache them per (event type, occurred hour).
    event_keys: dict[tuple[str, str], str] = {}
    counts = LandingCounts()
    quarantined = counts.quarantined
    n_events = 0
    n_messages = 0
    names = (source, ingested_text, ingested_at, name)
    for body, meta in messages:
        n_messages += 1
        raw_b64 = b64(body, newline=False).decode("ascii")
        decoded: DecodedEvent | Rejection | None = None
        forced = None
        try:
            ingest = {"source": source, "ingested_at": ingested_text, **meta}
            forced = ingest.pop(QUARANTINE_META, None)
            decoded = decode(body)
            if forced is None and type(decoded) is DecodedEvent:
                # DecodedEvent.to_record()'s fields and order, plus raw_b64 and ingest, built as one dict.
                occurred_text = format_ts(decoded.occurred_at)
                event_type = decoded.event_type
                record: dict[str, Any] = {
                    "event_id": decoded.event_id,
                    "event_type": event_type,
                    "schema_version": decoded.schema_version,
                    "occurred_at": occurred_text,
                    "producer": decoded.producer,
                    "payload": decoded.payload,
                    "raw_b64": raw_b64,
                    "ingest": ingest,
                }
                cache_key = (event_type, occurred_text[:13])
                key = event_keys.get(cache_key)
                if key is None:
                    key = events_key(source, event_type, decoded.occurred_at, name)
                    event_keys[cache_key] = key
                reason = ""
            else:
                reason, key, record = _rejected(decoded, forced, raw_b64, ingest, names)
            line = dumps(record)
        except Exception as exc:
            reason, key, line = _fallback_line(
                exc, body_b64=raw_b64, meta=meta, forced=forced, decoded=decoded, names=names
            )
        if reason:
            quarantined[reason] += 1
        else:
            n_events += 1
        group = groups.get(key)
        if group is None:
            groups[key] = [line]
        else:
            group.append(line)
    counts.messages = n_messages
    counts.events = n_events
    return groups, counts


def gzip_lines(lines: list[bytes]) -> bytes:
    """NDJSON (one line per record, trailing newline) as a gzip member; mtime 0 keeps output reproducible."""
    data = b"\n".join(lines) + b"\n"
    return zlib.compress(data, GZIP_LEVEL, wbits=31)


def build_objects(
    messages: Iterable[Incoming], *, source: Source, ingested_at: datetime, name: str
) -> PreparedBatch:
    """The pure half of landing: lines grouped by key and gzipped, with counts. No I/O."""
    groups, counts = build_lines(messages, source=source, ingested_at=ingested_at, name=name)
    objects = {key: gzip_lines(lines) for key, lines in groups.items()}
    counts.objects = len(objects)
    counts.bytes = sum(len(data) for data in objects.values())
    return PreparedBatch(objects, counts)


_put_pool: ThreadPoolExecutor | None = None
_put_pool_lock = threading.Lock()


def _shared_put_pool() -> ThreadPoolExecutor:
    """One put pool per process, started on first use (a pool per batch cost a thread start per put)."""
    global _put_pool  # noqa: PLW0603 - one pool per process
    with _put_pool_lock:
        if _put_pool is None:
            _put_pool = ThreadPoolExecutor(max_workers=PUT_THREADS, thread_name_prefix="bronze-put")
        return _put_pool


def write_objects(store: BronzeStore, prepared: PreparedBatch, *, threads: int = PUT_THREADS) -> None:
    """Write every object durably; raises a failure (the caller must then not ack).

    Puts run in parallel: each one waits on fsync or an S3 round trip, not on the CPU. Every put is waited
    for, even after one failed, so none is still running when this returns or raises.
    """
    objects = prepared.objects
    if len(objects) <= 1 or threads <= 1:
        for key, data in objects.items():
            store.put(key, data)
        return
    pool = _shared_put_pool()
    futures = [pool.submit(store.put, key, data) for key, data in objects.items()]
    errors = [exc for exc in (f.exception() for f in futures) if exc is not None]
    if errors:
        raise errors[0]


def land(
    store: BronzeStore,
    messages: Iterable[Incoming],
    *,
    source: Source,
    name_factory: NameFactory,
    ingested_at: datetime | None = None,
) -> LandingCounts:
    """Build and durably write one batch; when this returns, every message of it may be acked."""
    at = ingested_at or utc_now()
    prepared = build_objects(messages, source=source, ingested_at=at, name=name_factory(at))
    write_objects(store, prepared)
    return prepared.counts
