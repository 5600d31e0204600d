{{ config(materialized='table') }}
-- Weekly reference FX rates, as units of each currency per 1 unit of the reporting currency (var
-- reporting_currency), valid for the ISO week starting week_start. The seed fx_rates quotes every currency
-- per USD; dividing by the reporting currency's own rate of that week makes any listed currency the reporting
-- one. dbt seed loads the seed on DuckDB and on Snowflake alike; a treasury feed would replace the seed here,
-- with the same columns.
with rates as (
    select
        cast(week_start as date) as week_start,
        cast(currency_code as varchar) as currency_code,
        cast(units_per_usd as decimal(38, 9)) as units_per_usd
    from {{ ref('fx_rates') }}
),

reporting as (
    select
        week_start,
        units_per_usd as reporting_per_usd
    from rates
    where currency_code = '{{ var("reporting_currency") }}'
)

select
    rates.week_start,
    rates.currency_code,
    cast(rates.units_per_usd / reporting.reporting_per_usd as decimal(38, 9)) as units_per_reporting_unit
from rates
inner join reporting on rates.week_start = reporting.week_start
