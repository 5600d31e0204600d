{#- Reconciliation per backfill window and event_type: the journal's row count (latest control file per
    window) must equal the backfilled rows that reached RAW, valid plus quarantined. A difference means an
    event was lost (or loaded twice) between the journal and the warehouse. -#}
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
        coalesce(j.event_type, '<none>') as event_type,
        sum(j.journal_rows) as journal_rows
    from {{ source('raw', 'journal_counts') }} as j
    inner join latest_control as c on j.window_id = c.window_id and j.loaded_at = c.loaded_at
    group by j.window_id, coalesce(j.event_type, '<none>')
),

landed_events as (
    select
        {{ regex_group('file_name', 'backfill-(.+)-[0-9]+[.]ndjson[.]gz$') }} as window_id,
        event_type,
        count(*) as landed_rows
    from {{ source('raw', 'events') }}
    where source = 'backfill'
    group by {{ regex_group('file_name', 'backfill-(.+)-[0-9]+[.]ndjson[.]gz$') }}, event_type
),

landed_quarantine as (
    select
        {{ json_text('ingest', 'window_id') }} as window_id,
        coalesce(event_type, '<none>') as event_type,
        count(*) as landed_rows
    from {{ source('raw', 'quarantine') }}
    where source = 'backfill'
    group by {{ json_text('ingest', 'window_id') }}, coalesce(event_type, '<none>')
),

landed as (
    select
        window_id,
        event_type,
        sum(landed_rows) as landed_rows
    from (
        select * from landed_events
        union all
        select * from landed_quarantine
    ) as both_kinds
    group by window_id, event_type
)

select
    coalesce(journal.window_id, landed.window_id) as window_id,
    coalesce(journal.event_type, landed.event_type) as event_type,
    coalesce(journal.journal_rows, 0) as journal_rows,
    coalesce(landed.landed_rows, 0) as landed_rows
from journal
full outer join landed on journal.window_id = landed.window_id and journal.event_type = landed.event_type
where
    coalesce(journal.journal_rows, 0) <> coalesce(landed.landed_rows, 0)
    -- Only windows the journal has reported on: a window still being backfilled has no control record yet.
    and coalesce(journal.window_id, landed.window_id) in (select c.window_id from latest_control as c)
