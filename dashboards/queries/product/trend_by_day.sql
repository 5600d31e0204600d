select
    o.order_date,
    o.currency_code,
    sum(case when o.order_status in ('paid', 'shipped', 'delivered') then o.quantity else 0 end) as units_net,
    sum(o.net_revenue) as net_revenue
from marts.fct_orders as o
group by o.order_date, o.currency_code
order by o.order_date, o.currency_code
