-- fct_daily_demand is fct_orders summed by day, SKU and currency: every figure must agree exactly, in both
-- directions (a line lost or double-counted by the card join shows up as a difference).
with orders as (
    select
        order_date,
        sku,
        currency_code,
        count(distinct order_id) as order_count,
        sum(quantity) as units_ordered,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_orders') }}
    group by order_date, sku, currency_code
),

demand as (
    select
        order_date,
        sku,
        currency_code,
        sum(order_count) as order_count,
        sum(units_ordered) as units_ordered,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_daily_demand') }}
    group by order_date, sku, currency_code
)

select
    coalesce(o.order_date, d.order_date) as order_date,
    coalesce(o.sku, d.sku) as sku,
    coalesce(o.currency_code, d.currency_code) as currency_code
from orders as o
full outer join demand as d
    on o.order_date = d.order_date and o.sku = d.sku and o.currency_code = d.currency_code
where
    o.sku is null
    or d.sku is null
    or o.order_count != d.order_count
    or o.units_ordered != d.units_ordered
    or o.gross_revenue != d.gross_revenue
    or o.net_revenue != d.net_revenue
