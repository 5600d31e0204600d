"""No secret is ever printed: one redaction (cardpipe.redaction) for every DSN and URL form, applied to error
messages, log events (structlog and stdlib) and the CLI's error output."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import structlog
from cardpipe import redaction
from cardpipe.config import PostgresSettings, RabbitSettings, Settings, SnowflakeSettings
from cardpipe.errors import postgres_unreachable, rabbit_unreachable, redact_url
from cardpipe.logs import RedactingFilter, configure_logging, get_logger
from cardpipe.redaction import redact, redact_dsn

SECRET = "Hunter2-secret"


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_all()
    yield
    redaction.forget_all()


# Each form: (text, the secret in it, what must survive so the message stays useful).
FORMS = {
    "url user:pw": (
        f"postgresql://app:{SECRET}@db.internal:5432/journal",
        SECRET,
        "app:***@db.internal:5432",
    ),
    "url no user": (f"postgresql://:{SECRET}@db.internal/journal", SECRET, "://:***@db.internal"),
    "url percent-encoded": ("postgresql://app:p%40ss%2Fw0rd%20x@db/j", "p%40ss%2Fw0rd%20x", "app:***@db/j"),
    "url unencoded @ in pw": ("postgresql://app:p@ssw0rd@db/j", "ssw0rd", "app:***@db/j"),
    "amqp url": (f"amqps://loader:{SECRET}@b-1.mq.amazonaws.com:5671/%2F", SECRET, "loader:***@b-1"),
    "query password": (f"postgresql://app@db/j?password={SECRET}&sslmode=require", SECRET, "sslmode=require"),
    "query sslpassword": (
        f"postgresql://app@db/j?sslmode=verify-full&sslpassword={SECRET}",
        SECRET,
        "app@db",
    ),
    "query pass": (f"https://host/x?user=u&pass={SECRET}#top", SECRET, "#top"),
    "query token": (f"https://host/x?token={SECRET}", SECRET, "https://host/x?token=***"),
    "kv password": (f"host=db port=5432 password={SECRET} dbname=j", SECRET, "host=db port=5432"),
    "kv quoted spaces": ("host=db password='a b c' dbname=j", "a b c", "dbname=j"),
    "kv quoted escape": ("host=db password='it\\'s secret' user=u", "s secret", "user=u"),
    "kv spaces around =": (f"host=db password = {SECRET} user=u", SECRET, "user=u"),
    "kv double-quoted": (f'dsn="host=db password={SECRET}"', SECRET, 'dsn="host=db password=***"'),
    "kv upper case": (f"PASSWORD={SECRET}", SECRET, "PASSWORD=***"),
    "mapping repr": (f"{{'user': 'u', 'password': '{SECRET}'}}", SECRET, "'user': 'u'"),
    "pem block": (
        "key -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w\n"
        "-----END ENCRYPTED PRIVATE KEY----- end",
        "MIIFHDBOBgkqhkiG9w0BBQ0w",
        "end",
    ),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_is_redacted_in_free_text(form: str) -> None:
    text, secret, kept = FORMS[form]
    message = f"could not connect to {text} (timeout)"
    for out in (redact(message), redact_dsn(message)):
        assert secret not in out, out
        assert kept in out and out.startswith("could not connect to ") and out.endswith(" (timeout)"), out


def test_the_old_redact_url_leaked_what_this_one_hides() -> None:
    """redact_url (kept for its callers) now is the one redaction: the key/value and query forms leaked."""
    assert SECRET not in redact_url(f"host=db password={SECRET}")
    assert SECRET not in redact_url(f"postgresql://app@db/j?password={SECRET}")
    assert redact_url("postgresql://postgres@127.0.0.1:5432/postgres") == (
        "postgresql://postgres@127.0.0.1:5432/postgres"
    )  # nothing secret: unchanged


def test_dsn_secrets_come_from_psycopg2s_parser() -> None:
    dsn = "host=db user=app password='a b\\'c' sslpassword=k3y-pass"
    assert psycopg2.extensions.parse_dsn(dsn)["password"] == "a b'c"
    assert set(redaction.secrets_of(dsn)) >= {"a b'c", "k3y-pass"}
    out = redact_dsn(dsn)
    assert "a b" not in out and "k3y-pass" not in out and "user=app" in out


def test_known_secrets_are_hidden_anywhere() -> None:
    """A driver may echo the decoded password without its key; the configured values are hidden anyway."""
    settings = Settings(
        rabbitmq=RabbitSettings(url="amqp://loader:r%40bbit-pw@broker:5672/%2F"),
        postgres=PostgresSettings(dsn="host=db user=app password='pg pass 9'"),
        snowflake=SnowflakeSettings(
            private_key="-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
            "-----END PRIVATE KEY-----",
            private_key_passphrase="key-passphrase",
        ),
    )
    redaction.register_settings(settings)
    text = (
        "auth failed: r@bbit-pw / r%40bbit-pw / pg pass 9 / key-passphrase / MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    )
    out = redact(text)
    for secret in (
        "r@bbit-pw",
        "r%40bbit-pw",
        "pg pass 9",
        "key-passphrase",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ):
        assert secret not in out
    assert out.startswith("auth failed: ")


def test_a_default_guest_password_does_not_mask_the_user_everywhere() -> None:
    redaction.register_settings(Settings())
    assert redact("amqp://guest:guest@127.0.0.1:5672/%2F") == "amqp://guest:***@127.0.0.1:5672/%2F"
    assert redact("queue guest ok") == "queue guest ok"


def test_ordinary_text_is_left_alone() -> None:
    for text in (
        "files_passed=3 rows=10",
        "loaded 5 file(s)",
        "http://host:8080/path?x=1",
        "passport number",
    ):
        assert redact(text) == text


def test_error_messages_redact_the_dsn_and_the_driver_text() -> None:
    exc = psycopg2.OperationalError(f'connection to server failed: password "{SECRET}" rejected\nmore')
    message = str(postgres_unreachable(f"host=db password={SECRET}", exc))
    assert SECRET not in message and "host=db password=***" in message and "POSTGRES_DSN" in message
    message = str(rabbit_unreachable(f"amqp://u@broker/%2F?password={SECRET}", ConnectionError()))
    assert SECRET not in message and "RABBITMQ_URL" in message


def test_log_events_and_exceptions_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    try:
        log = get_logger("test.redaction")
        try:
            raise RuntimeError(f"cannot connect to host=db password={SECRET}")
        except RuntimeError:
            log.exception(
                "load.failed",
                dsn=f"postgresql://app:{SECRET}@db/j",
                password=SECRET,
                nested={"url": f"https://h/?token={SECRET}", "items": [f"pass={SECRET}"]},
            )
        err = capsys.readouterr().err
        assert SECRET not in err
        event = json.loads(err.strip().splitlines()[-1])
        assert event["dsn"] == "postgresql://app:***@db/j" and event["password"] == "***"
        assert "password=***" in event["exception"]
    finally:
        structlog.reset_defaults()


def test_stdlib_records_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction.stdlib")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"bad dsn postgresql://u:{SECRET}@h/db")
        except ValueError:
            logger.exception("connecting with %s", f"host=h password={SECRET}")
    finally:
        logger.removeHandler(handler)
    assert SECRET not in stream.getvalue() and "password=***" in stream.getvalue()


def _refusing_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 port={port} user=app password='{secret} x' dbname=journal connect_timeout=3",
        "postgresql://app:{secret}@127.0.0.1:{port}/journal?connect_timeout=3",
        "postgresql://app@127.0.0.1:{port}/journal?password={secret}&connect_timeout=3",
    ],
    ids=["key/value", "url", "url query"],
)
def test_the_cli_never_prints_the_postgres_password(dsn: str, tmp_path: Path) -> None:
    """The real CLI, as a process, against a PostgreSQL that is not there: the error names the DSN with the
    password hidden (the old redact_url printed key/value and query DSNs verbatim)."""
    env = os.environ | {
        "POSTGRES_DSN": dsn.format(port=_refusing_port(), secret=SECRET),
        "BRONZE_BACKEND": "local",
        "BRONZE_DIR": str(tmp_path / "bronze"),
        "CARDPIPE_DATA_DIR": str(tmp_path),
        "CARDPIPE_LOG_FORMAT": "json",
    }
    cardpipe = Path(sys.executable).with_name("cardpipe")
    proc = subprocess.run(
        [cardpipe, "backfill"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "PostgreSQL is not reachable at" in proc.stderr and "POSTGRES_DSN" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "***" in proc.stderr


def test_a_broker_that_is_down_is_one_line_with_the_fix(tmp_path: Path) -> None:
    """A newcomer without RabbitMQ sees cardpipe's one message, not pika's tracebacks of every attempt."""
    env = os.environ | {
        "RABBITMQ_URL": f"amqp://guest:{SECRET}@127.0.0.1:{_refusing_port()}/%2F",
        "CARDPIPE_DATA_DIR": str(tmp_path),
        "CARDPIPE_LOG_FORMAT": "json",
    }
    cardpipe = Path(sys.executable).with_name("cardpipe")
    proc = subprocess.run(
        [cardpipe, "publish", "--events", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "RabbitMQ is not reachable" in lines[0] and "rabbitmq-server -detached" in lines[0]
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr
