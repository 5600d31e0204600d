-- Gross order value in buckets of 25 units of the order's own currency.
with orders as (
    select
        order_id,
        currency_code,
        sum(gross_revenue) as order_value
    from marts.fct_orders
    group by order_id, currency_code
)

select
    currency_code,
    floor(order_value / 25) * 25 as bucket_from,
    floor(order_value / 25) * 25 + 25 as bucket_to,
    count(*) as orders
from orders
group by 1, 2, 3
order by 1, 2
