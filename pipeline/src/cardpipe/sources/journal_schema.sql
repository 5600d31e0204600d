-- The PostgreSQL event journal: the Orders, Card Catalog and Manufacturing services record every
-- event they publish here (history). Idempotent: safe to run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.events (
    -- Insertion order; the backfill's keyset-pagination cursor and checkpoint.
    seq          bigserial   PRIMARY KEY,
    -- Envelope fields copied out of the body by the producer, for filtering and reconciliation.
    -- Not unique: producers retry, so the journal itself holds at-least-once duplicates.
    -- Nullable because a malformed row may not have them.
    event_id     text,
    event_type   text,
    occurred_at  timestamptz,
    producer     text,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    -- The serialized sportscards.envelope.v1.EventEnvelope exactly as published.
    body         bytea       NOT NULL
);

CREATE INDEX IF NOT EXISTS events_occurred_at_seq_idx ON {schema}.events (occurred_at, seq);

-- Backfill windows filter on COALESCE(occurred_at, recorded_at): a row without occurred_at (malformed
-- history) belongs to the window of its recorded_at.
CREATE INDEX IF NOT EXISTS events_window_ts_seq_idx ON {schema}.events ((COALESCE(occurred_at, recorded_at)), seq);
