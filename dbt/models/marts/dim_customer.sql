{#- One row per customer seen in an order, with first/last order and lifetime counts (orders count once per
    order_id, whatever their status). Incremental delete+insert by customer_id (R14): a run re-derives, from
    fct_orders, exactly the customers of every placement (current or replaced) of the orders fct_orders
    re-derived since the table's max(last_load_batch), so an order re-sent under another customer leaves the
    old one restated (and removed once it has no order left). -#}
-- depends_on: {{ ref('stg_events__order_placed') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
    post_hook="{{ delete_emptied_keys() }}"
) }}

with
{%- if is_incremental() %}
    touched_customers as (
        select distinct p.customer_id
        from {{ ref('stg_events__order_placed') }} as p
        where p.order_id in ({{ orders_rederived_since_last_run() }})
    ),
{%- endif %}

orders as (
    select
        f.order_id,
        f.customer_id,
        f.channel,
        f.ordered_at,
        max(f.last_load_batch) as last_load_batch
    from {{ ref('fct_orders') }} as f
    {%- if is_incremental() %}
        where f.customer_id in (select c.customer_id from touched_customers as c)
    {%- endif %}
    group by f.order_id, f.customer_id, f.channel, f.ordered_at
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by ordered_at, order_id) as order_no
    from orders
),

customers as (
    select
        customer_id,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        max(case when order_no = 1 then channel end) as first_channel,
        count(*) as order_count,
        max(last_load_batch) as last_load_batch
    from ranked
    group by customer_id
)

select
    cast(customer_id as varchar) as customer_id,
    cast(first_ordered_at as timestamptz) as first_ordered_at,
    cast(last_ordered_at as timestamptz) as last_ordered_at,
    cast(first_channel as varchar) as first_channel,
    cast(order_count as bigint) as order_count,
    cast(last_load_batch as bigint) as last_load_batch
from customers
{%- if is_incremental() %}
    union all
    -- A touched customer with no order left: a zero row, so delete+insert removes the old one (post-hook).
    select
        cast(c.customer_id as varchar) as customer_id,
        cast(null as timestamptz) as first_ordered_at,
        cast(null as timestamptz) as last_ordered_at,
        cast(null as varchar) as first_channel,
        cast(0 as bigint) as order_count,
        cast(0 as bigint) as last_load_batch
    from touched_customers as c
    where not exists (select 1 from customers as k where k.customer_id = c.customer_id)
{%- endif %}
