{#- Daily demand by SKU and currency (R1: money is never summed across currencies), with the player and team of
    the card version each line points at (fct_orders.card_key, the version in effect when it was ordered).
    Revenue is restated: a later cancellation or refund lowers the net revenue of the order's day.
    Incremental delete+insert by (order_date, sku) (R14): a run re-derives, from fct_orders, every (day, SKU)
    that any placement (current or replaced) of an order fct_orders re-derived since the table's
    max(last_load_batch) ever had, so a re-sent order that moved day or dropped a SKU restates the old pair too,
    and a card that arrived re-points the pair's player and team. -#}
-- depends_on: {{ ref('stg_events__order_placed') }}
-- depends_on: {{ ref('stg_events__order_lines') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['order_date', 'sku'],
    on_schema_change='fail',
    post_hook="{{ delete_emptied_keys() }}"
) }}

with
{%- if is_incremental() %}
    touched_days as (
        select distinct
            cast({{ utc_date('p.occurred_at') }} as date) as order_date,
            l.sku
        from {{ ref('stg_events__order_placed') }} as p
        inner join {{ ref('stg_events__order_lines') }} as l on p.event_id = l.event_id
        where p.order_id in ({{ orders_rederived_since_last_run() }})
    ),
{%- endif %}

lines as (
    select
        fct.order_date,
        fct.sku,
        fct.currency_code,
        fct.order_id,
        fct.quantity,
        fct.gross_revenue,
        fct.net_revenue,
        fct.order_status,
        fct.last_load_batch,
        card.player_name,
        card.team
    from {{ ref('fct_orders') }} as fct
    left join {{ ref('dim_card') }} as card on fct.card_key = card.card_key
    {%- if is_incremental() %}
        where exists (
            select 1 from touched_days as d
            where d.order_date = fct.order_date and d.sku = fct.sku
        )
    {%- endif %}
),

demand as (
    select
        order_date,
        sku,
        currency_code,
        player_name,
        team,
        count(distinct order_id) as order_count,
        sum(quantity) as units_ordered,
        sum(case when {{ is_revenue_status('order_status') }} then quantity else 0 end) as units_net,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue,
        max(last_load_batch) as last_load_batch
    from lines
    group by order_date, sku, currency_code, player_name, team
)

select
    {{ hash_key(['order_date', 'sku', 'currency_code', 'player_name', 'team']) }} as daily_demand_key,
    order_date,
    sku,
    currency_code,
    player_name,
    team,
    order_count,
    cast(units_ordered as bigint) as units_ordered,
    cast(units_net as bigint) as units_net,
    cast(gross_revenue as decimal(38, 9)) as gross_revenue,
    cast(net_revenue as decimal(38, 9)) as net_revenue,
    cast(last_load_batch as bigint) as last_load_batch
from demand
{%- if is_incremental() %}
    union all
    -- A touched (day, SKU) with no line left: a zero row, so delete+insert removes the old ones (post-hook).
    select
        {{ hash_key(['d.order_date', 'd.sku']) }} as daily_demand_key,
        d.order_date,
        d.sku,
        cast(null as varchar) as currency_code,
        cast(null as varchar) as player_name,
        cast(null as varchar) as team,
        0 as order_count,
        cast(0 as bigint) as units_ordered,
        cast(0 as bigint) as units_net,
        cast(0 as decimal(38, 9)) as gross_revenue,
        cast(0 as decimal(38, 9)) as net_revenue,
        cast(0 as bigint) as last_load_batch
    from touched_days as d
    where not exists (
        select 1 from demand as x
        where x.order_date = d.order_date and x.sku = d.sku
    )
{%- endif %}
