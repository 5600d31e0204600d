{#- Volume anomaly: the newest load day's raw event count must be within VOLUME_ANOMALY_PCT percent of the
    average of the VOLUME_ANOMALY_LOOKBACK_DAYS days before it (days by loaded_at, UTC). With no history
    yet there is nothing to compare against, so it passes. -#}
{{ config(tags=['data_quality']) }}

{%- set pct = env_var('VOLUME_ANOMALY_PCT', '50') | float %}
{%- set lookback = env_var('VOLUME_ANOMALY_LOOKBACK_DAYS', '7') | int %}

with daily as (
    select
        {{ utc_date('loaded_at') }} as load_day,
        count(*) as events
    from {{ source('raw', 'events') }}
    group by 1
),

latest as (
    select max(load_day) as load_day from daily
),

history as (
    select avg(cast(daily.events as double)) as average_events
    from daily
    cross join latest
    where
        daily.load_day < latest.load_day
        and daily.load_day >= {{ dbt.dateadd('day', -lookback, 'latest.load_day') }}
)

select
    daily.load_day,
    daily.events,
    history.average_events
from daily
inner join latest on daily.load_day = latest.load_day
cross join history
where
    history.average_events > 0
    and abs(daily.events - history.average_events) > history.average_events * {{ pct }} / 100
