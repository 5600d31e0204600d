-- Per currency: money is never added across currencies.
select
    currency_code,
    count(distinct order_id) as orders,
    sum(gross_revenue) as gross_revenue,
    sum(net_revenue) as net_revenue
from marts.fct_orders
group by currency_code
order by currency_code
