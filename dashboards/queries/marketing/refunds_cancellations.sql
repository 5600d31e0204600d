-- The reason comes with the latest status change (intermediate.int_order_status_latest: fct_orders has none).
select
    o.order_status,
    coalesce(nullif(s.reason, ''), '(no reason given)') as reason,
    o.currency_code,
    count(distinct o.order_id) as orders,
    sum(o.gross_revenue) as gross_revenue
from marts.fct_orders as o
left join intermediate.int_order_status_latest as s on o.order_id = s.order_id
where o.order_status in ('cancelled', 'refunded')
group by 1, 2, 3
order by 1, 4 desc, 2, 3
