-- Card attributes as they were when the order was placed (the SCD2 version valid at ordered_at).
select
    o.sku as sku,
    o.currency_code,
    sum(case when o.order_status in ('paid', 'shipped', 'delivered') then o.quantity else 0 end) as units_net,
    sum(o.net_revenue) as net_revenue
from marts.fct_orders as o
left join marts.dim_card as c
    on
        o.sku = c.sku
        and o.ordered_at >= c.valid_from
        and (c.valid_to is null or o.ordered_at < c.valid_to)
group by o.sku, o.currency_code
order by units_net desc, sku asc, o.currency_code asc
limit 20
