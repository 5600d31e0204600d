{{ config(unique_key='event_id', incremental_strategy='append') }}

with events as (
    {{ new_raw_events('order_placed') }}
)

select
    event_id,
    occurred_at,
    loaded_at,
    load_batch,
    {{ json_text('payload', 'order_id') }} as order_id,
    {{ json_text('payload', 'customer_id') }} as customer_id,
    {{ json_text('payload', 'channel') }} as channel,
    {{ json_text('payload', 'currency_code') }} as currency_code,
    payload
from events
