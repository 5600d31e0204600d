-- One row per manufacturing batch: started facts joined to completed facts (a batch still running has no
-- completion yet). Duplicated batch events count once: the first by occurred_at wins.
with started as (
    select *
    from (
        select
            *,
            row_number() over (partition by batch_id order by occurred_at, event_id) as event_no
        from {{ ref('stg_events__batch_started') }}
    ) as ranked
    where event_no = 1
),

completed as (
    select *
    from (
        select
            *,
            row_number() over (partition by batch_id order by occurred_at, event_id) as event_no
        from {{ ref('stg_events__batch_completed') }}
    ) as ranked
    where event_no = 1
)

select
    coalesce(started.batch_id, completed.batch_id) as batch_id,
    coalesce(started.sku, completed.sku) as sku,
    coalesce(started.facility, completed.facility) as facility,
    coalesce(completed.planned_units, started.planned_units) as planned_units,
    completed.produced_units,
    completed.defective_units,
    case
        when completed.produced_units > 0
            then cast(round(cast(completed.defective_units as double) / completed.produced_units, 6) as decimal(9, 6))
    end as defect_rate,
    started.occurred_at as started_at,
    completed.occurred_at as completed_at,
    case
        when started.occurred_at is not null and completed.occurred_at is not null
            -- Exact elapsed time: microsecond difference scaled to seconds (a 'second' datediff counts
            -- boundary crossings and can be off by one for sub-second timestamps).
            then cast(
                {{ dbt.datediff('started.occurred_at', 'completed.occurred_at', 'microsecond') }} / 1000000.0  -- noqa: LT05
                as decimal(18, 6)
            )
    end as cycle_time_seconds,
    completed.batch_id is not null as is_completed
from started
full outer join completed on started.batch_id = completed.batch_id
