{#- The not-yet-staged raw events of one type, one row per event_id.
    raw.events keeps every delivery (at-least-once); the first copy by occurred_at, then loaded_at, wins.
    Incrementally: only rows loaded at or after the newest staged loaded_at, minus the event_ids already
    staged (">=" plus the anti-join keeps rows loaded in the same second as the last run). -#}
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
        and e.loaded_at >= (select coalesce(max(t.loaded_at), cast('1900-01-01' as timestamp)) from {{ this }} as t)
        and not exists (select 1 from {{ this }} as t where t.event_id = e.event_id)
        {%- endif %}
) as ranked
where copy_no = 1
{%- endmacro %}
