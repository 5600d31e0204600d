{{ config(unique_key='event_id', incremental_strategy='append') }}

with events as (
    {{ new_raw_events('order_status_changed') }}
)

select
    event_id,
    occurred_at,
    loaded_at,
    load_batch,
    {{ json_text('payload', 'order_id') }} as order_id,
    {{ json_text('payload', 'status') }} as status,
    {{ json_text('payload', 'reason') }} as reason
from events
