"""The PostgreSQL event journal: connection and (idempotent) schema."""

from __future__ import annotations

from importlib import resources

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from cardpipe.config import PostgresSettings
from cardpipe.errors import postgres_unreachable


def connect(settings: PostgresSettings) -> psycopg2.extensions.connection:
    try:
        return psycopg2.connect(settings.dsn, connect_timeout=5, application_name="cardpipe")
    except psycopg2.OperationalError as exc:
        raise postgres_unreachable(settings.dsn, exc) from exc


def ensure_schema(conn: psycopg2.extensions.connection, schema: str) -> None:
    """Create the journal schema and table if missing (safe to call on every run)."""
    ddl = resources.files("cardpipe.sources").joinpath("journal_schema.sql").read_text()
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(ddl.replace("{schema}", "{0}")).format(sql.Identifier(schema)))


def events_table(schema: str) -> sql.Composed:
    return sql.SQL("{}.events").format(sql.Identifier(schema))
