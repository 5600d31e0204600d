"""`cardpipe seed-journal` against a fresh PostgreSQL database: N rows, exactly the generated events."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest
from cardpipe.commands.seed_journal import command
from cardpipe.config import PostgresSettings, get_settings
from cardpipe.generator import Rates, generate
from cardpipe.generator.stream import GeneratedEvent
from cardpipe.sources.journal import connect, ensure_schema
from cardpipe.sources.journal_writer import write_events
from click.testing import CliRunner

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_env(pg_settings: PostgresSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresSettings]:
    """Point the command's settings (read from the environment) at the test database."""
    monkeypatch.setenv("POSTGRES_DSN", pg_settings.dsn)
    get_settings.cache_clear()
    yield pg_settings
    get_settings.cache_clear()


def rows(settings: PostgresSettings) -> list[tuple[object, ...]]:
    with psycopg2.connect(settings.dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT event_id, event_type, occurred_at, producer, body FROM journal.events ORDER BY seq"
        )
        return cur.fetchall()


def run(*args: str) -> None:
    result = CliRunner().invoke(command, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)


def test_seed_writes_exactly_the_history_stream(pg_env: PostgresSettings) -> None:
    run("--events", "700", "--seed", "5", "--chunk-rows", "256", "--malformed-rate", "0.05")
    expected = list(generate("history", 700, seed=5, rates=Rates(malformed=0.05)))
    stored = rows(pg_env)
    assert len(stored) == 700
    assert [bytes(r[4]) for r in stored] == [e.body for e in expected]  # type: ignore[arg-type]
    assert [(r[0], r[1], r[2], r[3]) for r in stored] == [
        (e.event_id, e.event_type, e.occurred_at, e.producer) for e in expected
    ]
    garbage = [r for r, e in zip(stored, expected, strict=True) if e.kind == "malformed:garbage"]
    assert garbage and all(r[0] is None and r[1] is None and r[2] is None for r in garbage)


def test_seed_is_idempotent_in_schema_and_reset_truncates(pg_env: PostgresSettings) -> None:
    run("--events", "120", "--seed", "1")
    run("--events", "80", "--seed", "1")  # schema exists already: appends
    assert len(rows(pg_env)) == 200
    run("--events", "90", "--seed", "1", "--reset")
    stored = rows(pg_env)
    assert len(stored) == 90
    assert [bytes(r[4]) for r in stored] == [e.body for e in generate("history", 90, seed=1)]  # type: ignore[arg-type]
    with psycopg2.connect(pg_env.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(seq) FROM journal.events")
        assert cur.fetchone() == (1,)  # RESTART IDENTITY


def test_writer_escapes_text_and_keeps_bytes(pg_settings: PostgresSettings) -> None:
    """Every byte value survives COPY (bytea hex), including tabs, newlines and backslashes."""
    tricky = GeneratedEvent(
        None, "weird\\type\twith\ncontrol", None, None, bytes(range(256)), "malformed:garbage"
    )
    conn = connect(pg_settings)
    try:
        ensure_schema(conn, "journal")
        assert write_events(conn, "journal", [tricky], chunk_rows=1) == 1
    finally:
        conn.close()
    (stored,) = rows(pg_settings)
    assert stored[1] == "weird\\type\twith\ncontrol"
    assert bytes(stored[4]) == bytes(range(256))  # type: ignore[arg-type]


def test_unreachable_postgres_fails_fast_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_DSN", "postgresql://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(command, ["--events", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "PostgreSQL is not reachable" in str(result.exception)
    assert "POSTGRES_DSN" in str(result.exception)
