-- RAW tables of docs/bronze-and-raw.md. One row per bronze line; staging (dbt) deduplicates.
-- Timestamps are TIMESTAMPTZ (stored as UTC instants); payload and ingest stay JSON.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.events (
    event_id varchar,
    event_type varchar,
    schema_version integer,
    occurred_at timestamptz,
    producer varchar,
    payload json,
    source varchar,
    ingested_at timestamptz,
    raw_b64 varchar,
    file_name varchar NOT NULL,
    loaded_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.quarantine (
    reason varchar,
    detail varchar,
    event_id varchar,
    event_type varchar,
    source varchar,
    ingested_at timestamptz,
    raw_b64 varchar,
    ingest json,
    file_name varchar NOT NULL,
    loaded_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.journal_counts (
    window_id varchar,
    since timestamptz,
    until timestamptz,
    event_type varchar,
    journal_rows bigint,
    journal_distinct_event_ids bigint,
    captured_at timestamptz,
    file_name varchar NOT NULL,
    loaded_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.load_audit (
    file_name varchar PRIMARY KEY,
    kind varchar NOT NULL CHECK (kind IN ('events', 'quarantine', 'journal_counts')),
    rows bigint NOT NULL,
    checksum varchar NOT NULL,
    loaded_at timestamptz NOT NULL
);
