-- Daily demand by SKU, with the player and team the card had when it was ordered (point-in-time join on
-- dim_card). Revenue is restated: a later cancellation or refund lowers the net revenue of the order's day.
with lines as (
    select
        fct.order_date,
        fct.sku,
        fct.order_id,
        fct.quantity,
        fct.gross_revenue,
        fct.net_revenue,
        fct.order_status,
        card.player_name,
        card.team
    from {{ ref('fct_orders') }} as fct
    left join {{ ref('dim_card') }} as card
        on
            fct.sku = card.sku
            and fct.ordered_at >= card.valid_from
            and (card.valid_to is null or fct.ordered_at < card.valid_to)
)

select
    {{ hash_key(['order_date', 'sku', 'player_name', 'team']) }} as daily_demand_key,
    order_date,
    sku,
    player_name,
    team,
    count(distinct order_id) as order_count,
    cast(sum(quantity) as bigint) as units_ordered,
    cast(sum(case when order_status in ('cancelled', 'refunded') then 0 else quantity end) as bigint) as units_net,
    cast(sum(gross_revenue) as decimal(38, 9)) as gross_revenue,
    cast(sum(net_revenue) as decimal(38, 9)) as net_revenue
from lines
group by order_date, sku, player_name, team
