{{ config(group="analytics") }}
-- Every currency and ISO week an order uses has exactly one FX rate: otherwise the reporting-currency view
-- would show a null (no rate) or double a line (two rates). Fails on each uncovered or doubled pair.
with used as (
    select distinct
        currency_code,
        cast({{ dbt.date_trunc('week', 'order_date') }} as date) as week_start
    from {{ ref('fct_orders') }}
),

rates as (
    select
        currency_code,
        week_start,
        count(*) as n
    from {{ ref('stg_fx_rates') }}
    group by currency_code, week_start
)

select
    used.currency_code,
    used.week_start,
    coalesce(rates.n, 0) as rates
from used
left join rates on used.currency_code = rates.currency_code and used.week_start = rates.week_start
where coalesce(rates.n, 0) != 1
