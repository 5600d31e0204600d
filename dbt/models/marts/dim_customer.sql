{#- One row per customer seen in an order, with first/last order and lifetime counts (orders count once per
    order_id, whatever their status). Incremental delete+insert by customer_id (R14), at the cost of the delta:
    of the orders fct_orders re-derived since the table's max(last_load_batch),
    - an order every placement of which is newer than that watermark was never counted here: its customer's
      row is merged with it (min/max, count + 1, first order by (ordered_at, order_id));
    - an order counted before and re-sent since may have moved customer, time or channel: every customer any of
      its placements names is restated from all of its orders in fct_orders (one left with none is written
      as a zero row, which the post-hook deletes);
    - any other (a status change, a card re-pointed) changes no figure: its customer's row only takes the new
      last_load_batch, so the watermark advances.
    Why merge: every customer has orders in most loads, so restating the touched customers re-read all history. -#}
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
    watermark as (
        select ({{ staged_through('last_load_batch') }}) as since
    ),

    rederived as (
        -- Order grain of the fct_orders rows derived since the watermark (a re-derived order's rows all
        -- carry its placement's customer, channel and time).
        select
            f.order_id,
            f.customer_id,
            f.channel,
            f.ordered_at,
            max(f.last_load_batch) as last_load_batch
        from {{ ref('fct_orders') }} as f
        where f.last_load_batch > (select w.since from watermark as w)
        group by f.order_id, f.customer_id, f.channel, f.ordered_at
    ),

    placements as (
        select
            p.order_id,
            p.customer_id,
            p.load_batch
        from {{ ref('stg_events__order_placed') }} as p
        where p.order_id in (select r.order_id from rederived as r)
    ),

    placement_span as (
        select
            order_id,
            min(load_batch) as first_batch,
            max(load_batch) as last_batch
        from placements
        group by order_id
    ),

    restated_customers as (
        select distinct p.customer_id
        from placements as p
        inner join placement_span as s on p.order_id = s.order_id
        where
            s.first_batch <= (select w.since from watermark as w)
            and s.last_batch > (select w.since from watermark as w)
    ),

    orders as (
        -- Restated customers: all of their orders. Merged customers: only the orders never counted here.
        select
            f.order_id,
            f.customer_id,
            f.channel,
            f.ordered_at,
            max(f.last_load_batch) as last_load_batch
        from {{ ref('fct_orders') }} as f
        where f.customer_id in (select c.customer_id from restated_customers as c)
        group by f.order_id, f.customer_id, f.channel, f.ordered_at
        union all
        select
            r.order_id,
            r.customer_id,
            r.channel,
            r.ordered_at,
            r.last_load_batch
        from rederived as r
        inner join placement_span as s on r.order_id = s.order_id
        where
            s.first_batch > (select w.since from watermark as w)
            and not exists (select 1 from restated_customers as c where c.customer_id = r.customer_id)
    ),
{%- else %}
    orders as (
        select
            f.order_id,
            f.customer_id,
            f.channel,
            f.ordered_at,
            max(f.last_load_batch) as last_load_batch
        from {{ ref('fct_orders') }} as f
        group by f.order_id, f.customer_id, f.channel, f.ordered_at
    ),
{%- endif %}

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
        max(case when order_no = 1 then order_id end) as first_order_id,
        max(case when order_no = 1 then channel end) as first_channel,
        count(*) as order_count,
        max(last_load_batch) as last_load_batch
    from ranked
    group by customer_id
),
{%- if is_incremental() %}

merged_customers as (
    -- Customers of re-derived orders that are not restated: their row here, plus what `customers` holds of
    -- them (never-counted orders only), plus the re-derived orders' newest batch.
    select
        r.customer_id,
        max(r.last_load_batch) as rederived_load_batch
    from rederived as r
    where not exists (select 1 from restated_customers as c where c.customer_id = r.customer_id)
    group by r.customer_id
),

{#- The never-counted orders (d) hold the customer's first order, by (ordered_at, order_id), over its row (t). #}
{%- set new_order_first -%}
    (d.customer_id is not null and (
        t.customer_id is null
        or d.first_ordered_at < t.first_ordered_at
        or (d.first_ordered_at = t.first_ordered_at and d.first_order_id < t.first_order_id)
    ))
{%- endset %}

merged as (
    select
        m.customer_id,
        case when {{ new_order_first }} then d.first_ordered_at else t.first_ordered_at end as first_ordered_at,
        {{ greater_of('d.last_ordered_at', 't.last_ordered_at') }} as last_ordered_at,
        case when {{ new_order_first }} then d.first_order_id else t.first_order_id end as first_order_id,
        case when {{ new_order_first }} then d.first_channel else t.first_channel end as first_channel,
        coalesce(t.order_count, 0) + coalesce(d.order_count, 0) as order_count,
        {{ greater_of('m.rederived_load_batch', 't.last_load_batch') }} as last_load_batch
    from merged_customers as m
    left join {{ this }} as t on m.customer_id = t.customer_id
    left join customers as d on m.customer_id = d.customer_id
),

final as (
    select * from customers
    where customer_id in (select c.customer_id from restated_customers as c)
    union all
    select * from merged
    union all
    -- A restated customer with no order left: a zero row, so delete+insert removes the old one (post-hook).
    select
        c.customer_id,
        cast(null as timestamptz) as first_ordered_at,
        cast(null as timestamptz) as last_ordered_at,
        cast(null as varchar) as first_order_id,
        cast(null as varchar) as first_channel,
        0 as order_count,
        cast(0 as bigint) as last_load_batch
    from restated_customers as c
    where not exists (select 1 from customers as k where k.customer_id = c.customer_id)
)
{%- else %}

    final as (
        select * from customers
    )
{%- endif %}

select
    cast(customer_id as varchar) as customer_id,
    cast(first_ordered_at as timestamptz) as first_ordered_at,
    cast(last_ordered_at as timestamptz) as last_ordered_at,
    cast(first_order_id as varchar) as first_order_id,
    cast(first_channel as varchar) as first_channel,
    cast(order_count as bigint) as order_count,
    cast(last_load_batch as bigint) as last_load_batch
from final
