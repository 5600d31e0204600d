-- Calendar days (UTC, R11): from var date_spine_start, or the first day a fact uses if earlier, to var
-- date_spine_end, or the last day a fact uses if later. The days come from staging (order placements and
-- batch events), not from the facts themselves, so fct_orders' relationships test on order_date checks the
-- spine against an independent derivation. Provably cheap: a few thousand rows plus min/max per event type
-- (metadata on Snowflake: the UTC date is taken of min/max(occurred_at), the same days since the date is
-- monotone in the instant, so no row is converted). A range longer than var date_spine_max_days is cut there,
-- and that gap fails the relationships test instead of passing silently.
with fact_days as (
    select
        {{ utc_date('min(o.occurred_at)') }} as first_day,
        {{ utc_date('max(o.occurred_at)') }} as last_day
    from {{ ref('stg_events__order_placed') }} as o
    union all
    select
        {{ utc_date('min(s.occurred_at)') }} as first_day,
        {{ utc_date('max(s.occurred_at)') }} as last_day
    from {{ ref('stg_events__batch_started') }} as s
    union all
    select
        {{ utc_date('min(c.occurred_at)') }} as first_day,
        {{ utc_date('max(c.occurred_at)') }} as last_day
    from {{ ref('stg_events__batch_completed') }} as c
),

bounds as (
    select
        least(
            cast('{{ var("date_spine_start") }}' as date),
            coalesce(min(first_day), cast('{{ var("date_spine_start") }}' as date))
        ) as first_day,
        greatest(
            cast('{{ var("date_spine_end") }}' as date),
            coalesce(max(last_day), cast('{{ var("date_spine_end") }}' as date))
        ) as last_day
    from fact_days
),

spine as (
    select cast({{ dbt.dateadd('day', 'n.day_number', 'b.first_day') }} as date) as date_day
    from bounds as b
    cross join ({{ day_numbers(var('date_spine_max_days')) }}) as n
    where n.day_number <= {{ dbt.datediff('b.first_day', 'b.last_day', 'day') }}
)

select
    date_day,
    cast(extract(year from date_day) as integer) as year_number,
    cast(extract(quarter from date_day) as integer) as quarter_number,
    cast(extract(month from date_day) as integer) as month_number,
    cast(extract(day from date_day) as integer) as day_of_month,
    cast({{ iso_day_of_week('date_day') }} as integer) as iso_day_of_week,
    {{ iso_day_of_week('date_day') }} in (6, 7) as is_weekend
from spine
