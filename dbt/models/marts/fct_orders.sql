{#- Order-line grain. Incremental merge: every order touched by an event loaded since the last run (minus a
    lookback window for late arrivals) is re-derived in full from staging, so a late cancellation or refund
    restates the order's lines. -#}
-- depends_on: {{ ref('stg_events__order_status_changed') }}
{{ config(
    materialized='incremental',
    unique_key='order_line_key',
    incremental_strategy='merge',
    on_schema_change='fail'
) }}

{%- set lookback_hours = var('fct_orders_lookback_hours') | int %}

with
{%- if is_incremental() %}
    watermark as (
        select
            coalesce(
                {{ dbt.dateadd('hour', -lookback_hours, 'max(t.last_loaded_at)') }}, cast('1900-01-01' as timestamp)
            ) as since
        from {{ this }} as t
    ),

    touched_orders as (
        select l.order_id from {{ ref('stg_events__order_lines') }} as l
        where l.loaded_at >= (select w.since from watermark as w)
        union
        select s.order_id from {{ ref('stg_events__order_status_changed') }} as s
        where s.loaded_at >= (select w.since from watermark as w)
    ),
{%- endif %}

placed as (
    -- One order_placed per order_id: the first by occurred_at if a producer re-sent it under a new event_id.
    select *
    from (
        select
            o.*,
            row_number() over (partition by o.order_id order by o.occurred_at, o.event_id) as placement_no
        from {{ ref('stg_events__order_placed') }} as o
        {%- if is_incremental() %}
            where o.order_id in (select t.order_id from touched_orders as t)
        {%- endif %}
    ) as ranked
    where placement_no = 1
),

lines as (
    select l.*
    from {{ ref('stg_events__order_lines') }} as l
    inner join placed on l.event_id = placed.event_id
)

select
    {{ hash_key(['lines.order_id', 'lines.line_number']) }} as order_line_key,
    lines.order_id,
    lines.line_number,
    placed.customer_id,
    placed.channel,
    placed.currency_code,
    lines.sku,
    placed.occurred_at as ordered_at,
    {{ utc_date('placed.occurred_at') }} as order_date,
    lines.quantity,
    lines.unit_price,
    cast(lines.quantity * lines.unit_price as decimal(38, 9)) as gross_revenue,
    cast(
        case
            when coalesce(status.status, 'placed') in ('cancelled', 'refunded') then 0
            else lines.quantity * lines.unit_price
        end as decimal(38, 9)
    ) as net_revenue,
    coalesce(status.status, 'placed') as order_status,
    status.status_changed_at,
    case
        when status.last_loaded_at is null or placed.loaded_at > status.last_loaded_at then placed.loaded_at
        else status.last_loaded_at
    end as last_loaded_at
from lines
inner join placed on lines.event_id = placed.event_id
left join {{ ref('int_order_status_latest') }} as status on lines.order_id = status.order_id
