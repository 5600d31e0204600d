INSERT INTO raw.journal_counts
SELECT
    window_id,
    since,
    until,
    event_type,
    journal_rows,
    journal_distinct_event_ids,
    captured_at,
    substr(filename, $prefix_len + 1),
    $loaded_at
FROM read_json(
    $paths,
    format = 'newline_delimited',
    compression = 'gzip',
    filename = true,
    columns = {
        window_id: 'VARCHAR', since: 'TIMESTAMPTZ', until: 'TIMESTAMPTZ', event_type: 'VARCHAR',
        journal_rows: 'BIGINT', journal_distinct_event_ids: 'BIGINT', captured_at: 'TIMESTAMPTZ'
    }
)
