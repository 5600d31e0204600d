select
    cast(status_changed_at as date) as status_date,
    order_status,
    count(distinct order_id) as orders
from marts.fct_orders
where order_status in ('cancelled', 'refunded')
group by 1, 2
order by 1, 2
