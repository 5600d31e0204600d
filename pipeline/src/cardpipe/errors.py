"""Errors a user can act on: each message says what is wrong and what to do."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class ServiceUnavailable(Exception):
    """A server the command needs (RabbitMQ, PostgreSQL, S3, the warehouse) cannot be reached."""


def rabbit_unreachable(url: str, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"RabbitMQ is not reachable at {redact_url(url)} ({exc.__class__.__name__}): start it with "
        "`rabbitmq-server -detached` (or `docker compose up -d rabbitmq`), or set RABBITMQ_URL"
    )


def postgres_unreachable(dsn: str, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"PostgreSQL is not reachable at {redact_url(dsn)} ({str(exc).strip().splitlines()[0]}): start it "
        "with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
        "(or `docker compose up -d postgres`), or set POSTGRES_DSN"
    )


def redact_url(url: str) -> str:
    """Hide the password of a URL so it can be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
