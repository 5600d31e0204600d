-- The reason comes with the order's current status change (fct_orders.status_reason).
select
    o.order_status,
    coalesce(nullif(o.status_reason, ''), '(no reason given)') as reason,
    o.currency_code,
    count(distinct o.order_id) as orders,
    sum(o.gross_revenue) as gross_revenue
from marts.fct_orders as o
where o.order_status in ('cancelled', 'refunded')
group by 1, 2, 3
order by 1, 4 desc, 2, 3
