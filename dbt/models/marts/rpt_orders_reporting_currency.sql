{{ config(materialized='view') }}
-- fct_orders with every amount also in the one reporting currency (var reporting_currency): the rate of the
-- ISO week the order was placed in (stg_fx_rates). The original currency and amounts stay beside the converted
-- ones; converted amounts are rounded to 9 decimals (a division), the originals are exact. A currency/week
-- without a rate fails the test fx_rates_cover_every_order_week before this view reaches Sigma.
select
    o.order_line_key,
    o.order_id,
    o.line_number,
    o.order_date,
    o.sku,
    o.card_key,
    o.channel,
    o.order_status,
    o.currency_code,
    o.gross_revenue,
    o.net_revenue,
    '{{ var("reporting_currency") }}' as reporting_currency,
    fx.units_per_reporting_unit,
    cast(o.gross_revenue / fx.units_per_reporting_unit as decimal(38, 9)) as gross_revenue_reporting,
    cast(o.net_revenue / fx.units_per_reporting_unit as decimal(38, 9)) as net_revenue_reporting
from {{ ref('fct_orders') }} as o
left join {{ ref('stg_fx_rates') }} as fx
    on
        o.currency_code = fx.currency_code
        and cast({{ dbt.date_trunc('week', 'o.order_date') }} as date) = fx.week_start
