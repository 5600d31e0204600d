"""Errors a user can act on: each message says what is wrong and what to do."""

from __future__ import annotations

from cardpipe.redaction import redact_dsn


class ServiceUnavailable(Exception):
    """A server the command needs (RabbitMQ, PostgreSQL, S3, the warehouse) cannot be reached."""


def rabbit_unreachable(url: str, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"RabbitMQ is not reachable at {redact_url(url)} ({exc.__class__.__name__}): start it with "
        "`rabbitmq-server -detached` (or `docker compose up -d rabbitmq`), or set RABBITMQ_URL"
    )


def postgres_unreachable(dsn: str, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"PostgreSQL is not reachable at {redact_dsn(dsn)} ({redact_dsn(dsn, _first_line(exc))}): start it "
        "with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
        "(or `docker compose up -d postgres`), or set POSTGRES_DSN"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def redact_url(url: str) -> str:
    """A URL or DSN with its secrets hidden, for messages (the known name; cardpipe.redaction owns it)."""
    return redact_dsn(url)
