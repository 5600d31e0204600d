-- Week over week: the 7 days up to the newest order date against the 7 days before them (net units).
with bounds as (
    select max(order_date) as last_day
    from marts.fct_orders
),

weekly as (
    select
        o.sku,
        sum(case when o.order_date > b.last_day - interval '7 day' then o.quantity else 0 end) as units_this_week,
        sum(
            case
                when o.order_date <= b.last_day - interval '7 day' and o.order_date > b.last_day - interval '14 day'
                    then o.quantity
                else 0
            end
        ) as units_prior_week
    from marts.fct_orders as o
    cross join bounds as b
    where o.order_status in ('paid', 'shipped', 'delivered')
    group by o.sku
)

select
    sku,
    units_this_week,
    units_prior_week,
    units_this_week - units_prior_week as units_change
from weekly
order by abs(units_this_week - units_prior_week) desc, sku asc
limit 15
