-- One row per customer seen in an order, with first/last order and lifetime counts (orders count once per
-- order_id, whatever their status).
with orders as (
    select distinct
        order_id,
        customer_id,
        channel,
        ordered_at
    from {{ ref('fct_orders') }}
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by ordered_at, order_id) as order_no
    from orders
)

select
    customer_id,
    min(ordered_at) as first_ordered_at,
    max(ordered_at) as last_ordered_at,
    max(case when order_no = 1 then channel end) as first_channel,
    count(*) as order_count
from ranked
group by customer_id
