{#- The not-yet-staged raw events of one type, one row per event_id.
    raw.events keeps every delivery (at-least-once); the first copy by occurred_at, then loaded_at, wins.
    Incrementally: rows loaded since the newest staged loaded_at minus var staging_lookback_hours (a load
    that committed late with an older loaded_at is still picked up), minus the event_ids already staged
    (the anti-join makes the overlap harmless). -#}
{% macro new_raw_events(event_type) -%}
select
    event_id,
    occurred_at,
    producer,
    source,
    payload,
    loaded_at
from (
    select
        e.*,
        row_number() over (
            partition by e.event_id order by e.occurred_at, e.loaded_at, e.file_name
        ) as copy_no
    from {{ source('raw', 'events') }} as e
    where
        e.event_type = '{{ event_type }}'
        and e.event_id is not null
        {%- if is_incremental() %}
        and e.loaded_at >= ({{ staging_watermark() }})
        and not exists (select 1 from {{ this }} as t where t.event_id = e.event_id)
        {%- endif %}
) as ranked
where copy_no = 1
{%- endmacro %}


{#- Where an incremental staging model resumes: its newest loaded_at minus the lookback, or the beginning. -#}
{% macro staging_watermark() -%}
    select coalesce(
        {{ dbt.dateadd('hour', -(var('staging_lookback_hours') | int), 'max(t.loaded_at)') }},
        cast('1900-01-01' as timestamp)
    )
    from {{ this }} as t
{%- endmacro %}
