-- Per backfill window: the journal's own count (latest control record) against what reached RAW, events plus
-- quarantine (the same rule as dbt/tests/data_quality/backfill_reconciliation.sql, every window shown).
with latest_control as (
    select
        window_id,
        max(loaded_at) as loaded_at
    from raw.journal_counts
    group by window_id
),

journal as (
    select
        j.window_id,
        sum(j.journal_rows) as journal_rows
    from raw.journal_counts as j
    inner join latest_control as c on j.window_id = c.window_id and j.loaded_at = c.loaded_at
    group by j.window_id
),

landed as (
    select
        window_id,
        count(*) as landed_rows
    from (
        select {{backfill_window_id}} as window_id
        from raw.events
        where source = 'backfill'
        union all
        select {{quarantine_window_id}} as window_id
        from raw.quarantine
        where source = 'backfill'
    ) as both_kinds
    group by window_id
)

select
    coalesce(journal.window_id, landed.window_id) as window_id,
    coalesce(journal.journal_rows, 0) as journal_rows,
    coalesce(landed.landed_rows, 0) as landed_rows,
    coalesce(landed.landed_rows, 0) - coalesce(journal.journal_rows, 0) as difference,
    case
        when journal.window_id is null then 'no control record yet'
        when coalesce(landed.landed_rows, 0) = journal.journal_rows then 'reconciled'
        else 'MISMATCH'
    end as verdict
from journal
full outer join landed on journal.window_id = landed.window_id
order by 1
