INSERT INTO raw.quarantine
SELECT
    reason,
    detail,
    event_id,
    event_type,
    ingest ->> 'source',
    (ingest ->> 'ingested_at')::timestamptz,
    raw_b64,
    ingest,
    substr(filename, $prefix_len + 1),
    $loaded_at
FROM read_json(
    $paths,
    format = 'newline_delimited',
    compression = 'gzip',
    filename = true,
    columns = {
        reason: 'VARCHAR', detail: 'VARCHAR', event_id: 'VARCHAR', event_type: 'VARCHAR',
        raw_b64: 'VARCHAR', ingest: 'JSON'
    }
)
