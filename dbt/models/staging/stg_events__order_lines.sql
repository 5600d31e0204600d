{{ config(unique_key=['event_id', 'line_number'], incremental_strategy='append') }}

with orders as (
    select
        o.event_id,
        o.order_id,
        o.occurred_at,
        o.loaded_at,
        o.load_batch,
        o.payload
    from {{ ref('stg_events__order_placed') }} as o
    {%- if is_incremental() %}
        where
            o.load_batch > ({{ staged_through() }})
            and not exists (
                select 1 from {{ this }} as t
                where t.event_id = o.event_id
            )
    {%- endif %}
)

select
    orders.event_id,
    orders.order_id,
    cast({{ json_text('line.value', 'line_number') }} as integer) as line_number,
    {{ json_text('line.value', 'sku') }} as sku,
    cast({{ json_text('line.value', 'quantity') }} as integer) as quantity,
    cast({{ json_text('line.value', 'unit_price') }} as decimal(38, 9)) as unit_price,
    orders.occurred_at,
    orders.loaded_at,
    orders.load_batch
from orders
{{ flatten_json_array('orders.payload', 'lines', 'line') }}
