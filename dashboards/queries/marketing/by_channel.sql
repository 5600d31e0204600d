select
    channel,
    currency_code,
    count(distinct order_id) as orders,
    sum(gross_revenue) as gross_revenue,
    sum(net_revenue) as net_revenue
from marts.fct_orders
group by channel, currency_code
order by channel, currency_code
