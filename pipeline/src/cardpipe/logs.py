"""Structured logging: JSON lines when not on a terminal (Airflow, CI, Lambda), readable key=value on one.

Every event passes `redact_event` last before rendering: each string value (the event, every field, the
formatted exception) has its secrets hidden by cardpipe.redaction; stdlib records get the same filter.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from cardpipe.redaction import redact, redact_value


class _CurrentStderr:
    """Writes to whatever sys.stderr is now: a logger cached at start-up must not keep a stream that a
    test runner (or a daemonising parent) has since replaced and closed."""

    def write(self, message: str) -> int:
        return sys.stderr.write(message)

    def flush(self) -> None:
        sys.stderr.flush()


def redact_event(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: secrets hidden in every value (nested dicts and lists too), keys named like a
    secret (password=…) masked whole."""
    redacted: dict[str, Any] = redact_value(dict(event_dict))
    return redacted


class RedactingFilter(logging.Filter):
    """Stdlib records (pika, botocore, Airflow's own) with their secrets hidden before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not fit its format: leave it to logging's own error
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(fmt: str = "auto", level: int = logging.INFO, *, pika_level: str = "CRITICAL") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # pika logs every failed connection attempt at ERROR, with a traceback, from inside its connection
    # workflow; cardpipe reports the same failure once, with what to do (errors.ServiceUnavailable, the
    # consumer's reconnect log). Its messages stay available with CARDPIPE_PIKA_LOG_LEVEL=DEBUG.
    logging.getLogger("pika").setLevel(pika_level.upper())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
