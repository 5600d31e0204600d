{#- Reconciliation per backfill window: the journal's row count (latest control file per window) must equal the
    backfilled rows that reached RAW, valid plus quarantined. A difference means an event was lost (or loaded
    twice) between the journal and the warehouse.
    Compared per window, not per event type: a malformed journal row may carry an event_type column while its
    body cannot be decoded, so its quarantine row has no type to match it on. The control record keeps the
    per-type journal counts for diagnosis. -#}
{{ config(tags=['data_quality']) }}

with latest_control as (
    select
        window_id,
        max(loaded_at) as loaded_at
    from {{ source('raw', 'journal_counts') }}
    group by window_id
),

journal as (
    select
        j.window_id,
        sum(j.journal_rows) as journal_rows
    from {{ source('raw', 'journal_counts') }} as j
    inner join latest_control as c on j.window_id = c.window_id and j.loaded_at = c.loaded_at
    group by j.window_id
),

landed_events as (
    select
        {{ regex_group('file_name', 'backfill-(.+)-[0-9]+[.]ndjson[.]gz$') }} as window_id,
        count(*) as landed_rows
    from {{ source('raw', 'events') }}
    where source = 'backfill'
    group by {{ regex_group('file_name', 'backfill-(.+)-[0-9]+[.]ndjson[.]gz$') }}
),

landed_quarantine as (
    select
        {{ json_text('ingest', 'window_id') }} as window_id,
        count(*) as landed_rows
    from {{ source('raw', 'quarantine') }}
    where source = 'backfill'
    group by {{ json_text('ingest', 'window_id') }}
),

landed as (
    select
        window_id,
        sum(landed_rows) as landed_rows
    from (
        select * from landed_events
        union all
        select * from landed_quarantine
    ) as both_kinds
    group by window_id
)

select
    coalesce(journal.window_id, landed.window_id) as window_id,
    coalesce(journal.journal_rows, 0) as journal_rows,
    coalesce(landed.landed_rows, 0) as landed_rows
from journal
full outer join landed on journal.window_id = landed.window_id
where
    coalesce(journal.journal_rows, 0) <> coalesce(landed.landed_rows, 0)
    -- Only windows the journal has reported on: a window still being backfilled has no control record yet.
    and coalesce(journal.window_id, landed.window_id) in (select c.window_id from latest_control as c)
