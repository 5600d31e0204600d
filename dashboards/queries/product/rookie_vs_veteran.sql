select
    o.currency_code,
    case
        when c.is_rookie then 'rookie'
        when c.is_rookie is null then '(not in catalog)'
        else 'veteran'
    end as card_kind,
    sum(case when o.order_status in ('paid', 'shipped', 'delivered') then o.quantity else 0 end) as units_net,
    sum(o.net_revenue) as net_revenue
from marts.fct_orders as o
left join marts.dim_card as c
    on
        o.sku = c.sku
        and o.ordered_at >= c.valid_from
        and (c.valid_to is null or o.ordered_at < c.valid_to)
group by 1, 2
order by 1, 2
