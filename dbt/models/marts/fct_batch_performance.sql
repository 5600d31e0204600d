{#- One row per manufacturing batch (R10). The latest batch_started and the latest batch_completed of a
    batch (occurred_at desc, then delta_seq desc, then event_id desc) are its facts: a re-sent completion with
    corrected counts replaces the earlier one. Incremental delete+insert by batch_id: a run re-derives, from
    all of their events, exactly the batches with an event in a file loaded since its last run. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='batch_id',
    on_schema_change='fail'
) }}

with
{%- if is_incremental() %}
    watermark as (
        select ({{ staged_through('last_load_batch') }}) as since
    ),

    touched_batches as (
        select s.batch_id from {{ ref('stg_events__batch_started') }} as s
        where s.load_batch > (select w.since from watermark as w)
        union
        select c.batch_id from {{ ref('stg_events__batch_completed') }} as c
        where c.load_batch > (select w.since from watermark as w)
    ),
{%- endif %}

started_events as (
    select
        s.*,
        s.load_batch as delta_seq
    from {{ ref('stg_events__batch_started') }} as s
    {%- if is_incremental() %}
        where s.batch_id in (select t.batch_id from touched_batches as t)
    {%- endif %}
),

completed_events as (
    select
        c.*,
        c.load_batch as delta_seq
    from {{ ref('stg_events__batch_completed') }} as c
    {%- if is_incremental() %}
        where c.batch_id in (select t.batch_id from touched_batches as t)
    {%- endif %}
),

started as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by batch_id order by occurred_at desc, delta_seq desc, event_id desc
            ) as recency,
            max(delta_seq) over (partition by batch_id) as batch_delta_seq
        from started_events
    ) as ranked
    where recency = 1
),

completed as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by batch_id order by occurred_at desc, delta_seq desc, event_id desc
            ) as recency,
            max(delta_seq) over (partition by batch_id) as batch_delta_seq
        from completed_events
    ) as ranked
    where recency = 1
),

joined as (
    select
        coalesce(started.batch_id, completed.batch_id) as batch_id,
        coalesce(started.sku, completed.sku) as sku,
        coalesce(started.facility, completed.facility) as facility,
        coalesce(completed.planned_units, started.planned_units) as planned_units,
        completed.produced_units,
        completed.defective_units,
        started.occurred_at as started_at,
        completed.occurred_at as completed_at,
        completed.batch_id is not null as is_completed,
        coalesce(completed.occurred_at < started.occurred_at, false) as has_inconsistent_times,
        case
            when started.batch_delta_seq is null then completed.batch_delta_seq
            when completed.batch_delta_seq is null then started.batch_delta_seq
            when completed.batch_delta_seq > started.batch_delta_seq then completed.batch_delta_seq
            else started.batch_delta_seq
        end as last_load_batch
    from started
    full outer join completed on started.batch_id = completed.batch_id
)

select
    batch_id,
    sku,
    facility,
    cast(planned_units as integer) as planned_units,
    cast(produced_units as integer) as produced_units,
    cast(defective_units as integer) as defective_units,
    case
        when produced_units > 0
            then cast(round(cast(defective_units as double) / produced_units, 6) as decimal(9, 6))
    end as defect_rate,
    started_at,
    completed_at,
    case
        -- Null when either end is unknown or the completion is dated before the start (flagged instead of
        -- a negative duration). Exact elapsed time: microseconds scaled to seconds (a 'second' datediff
        -- counts boundary crossings and can be off by one for sub-second timestamps).
        when started_at is not null and completed_at is not null and not has_inconsistent_times
            then cast(
                {{ dbt.datediff('started_at', 'completed_at', 'microsecond') }} / 1000000.0  -- noqa: LT05
                as decimal(18, 6)
            )
    end as cycle_time_seconds,
    is_completed,
    has_inconsistent_times,
    last_load_batch
from joined
