-- A customer is new on the day of their first order, returning on any later order.
with orders as (
    select distinct
        order_id,
        customer_id,
        order_date,
        ordered_at
    from marts.fct_orders
)

select
    o.order_date,
    case when o.ordered_at = c.first_ordered_at then 'new' else 'returning' end as customer_type,
    count(distinct o.customer_id) as customers
from orders as o
inner join marts.dim_customer as c on o.customer_id = c.customer_id
group by 1, 2
order by 1, 2
