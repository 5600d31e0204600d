-- Types are declared to the JSON reader (no sniffing, timestamps parsed while reading, which is faster than
-- casting afterwards); ingest keeps only what raw.events needs.
INSERT INTO raw.events
SELECT
    event_id,
    event_type,
    schema_version,
    occurred_at,
    producer,
    payload,
    ingest.source,
    ingest.ingested_at,
    raw_b64,
    substr(filename, $prefix_len + 1),
    $loaded_at
FROM read_json(
    $paths,
    format = 'newline_delimited',
    compression = 'gzip',
    filename = true,
    columns = {
        event_id: 'VARCHAR', event_type: 'VARCHAR', schema_version: 'INTEGER', occurred_at: 'TIMESTAMPTZ',
        producer: 'VARCHAR', payload: 'JSON', raw_b64: 'VARCHAR',
        ingest: 'STRUCT(source VARCHAR, ingested_at TIMESTAMPTZ)'
    }
)
