-- Daily demand by SKU and currency (R1: money is never summed across currencies), with the player and team of
-- the card version each line points at (fct_orders.card_key, the version in effect when it was ordered).
-- Revenue is restated: a later cancellation or refund lowers the net revenue of the order's day.
with lines as (
    select
        fct.order_date,
        fct.sku,
        fct.currency_code,
        fct.order_id,
        fct.quantity,
        fct.gross_revenue,
        fct.net_revenue,
        fct.order_status,
        card.player_name,
        card.team
    from {{ ref('fct_orders') }} as fct
    left join {{ ref('dim_card') }} as card on fct.card_key = card.card_key
)

select
    {{ hash_key(['order_date', 'sku', 'currency_code', 'player_name', 'team']) }} as daily_demand_key,
    order_date,
    sku,
    currency_code,
    player_name,
    team,
    count(distinct order_id) as order_count,
    cast(sum(quantity) as bigint) as units_ordered,
    cast(sum(case when {{ is_revenue_status('order_status') }} then quantity else 0 end) as bigint) as units_net,
    cast(sum(gross_revenue) as decimal(38, 9)) as gross_revenue,
    cast(sum(net_revenue) as decimal(38, 9)) as net_revenue
from lines
group by order_date, sku, currency_code, player_name, team
