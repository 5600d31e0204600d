-- Card attributes as they were when the order was placed (the SCD2 version valid at ordered_at).
select
    coalesce(c.player_name, '(not in catalog)') as player_name,
    o.currency_code,
    sum(case when o.order_status in ('paid', 'shipped', 'delivered') then o.quantity else 0 end) as units_net,
    sum(o.net_revenue) as net_revenue
from marts.fct_orders as o
left join marts.dim_card as c
    on
        o.sku = c.sku
        and o.ordered_at >= c.valid_from
        and (c.valid_to is null or o.ordered_at < c.valid_to)
group by coalesce(c.player_name, '(not in catalog)'), o.currency_code
order by units_net desc, player_name asc, o.currency_code asc
limit 20
