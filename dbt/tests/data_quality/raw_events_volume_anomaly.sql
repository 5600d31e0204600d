{#- Volume anomaly: the raw event count of the 24 hours up to the newest load must be within VOLUME_ANOMALY_PCT
    percent of the average of the VOLUME_ANOMALY_LOOKBACK_DAYS 24-hour windows before it. Windows are rolling,
    anchored at the newest loaded_at, not calendar days: a calendar "today" is partial for most of the day, so
    a run soon after UTC midnight would compare an hour of events with whole days and fail for the clock.
    With no history yet there is nothing to compare against, so it passes. -#}
{{ config(tags=['data_quality']) }}

{%- set pct = env_var('VOLUME_ANOMALY_PCT', '50') | float %}
{%- set lookback = env_var('VOLUME_ANOMALY_LOOKBACK_DAYS', '7') | int %}

with anchor as (
    select max(loaded_at) as newest_load from {{ source('raw', 'events') }}
),

windows as (
    select
        floor({{ dbt.datediff('events.loaded_at', 'anchor.newest_load', 'second') }} / 86400) as days_back,  -- noqa: LT05
        count(*) as events
    from {{ source('raw', 'events') }} as events
    cross join anchor
    group by 1
),

history as (
    select avg(cast(events as double)) as average_events
    from windows
    where days_back between 1 and {{ lookback }}
)

select
    windows.events as latest_24h_events,
    history.average_events
from windows
cross join history
where
    windows.days_back = 0
    and history.average_events > 0
    and abs(windows.events - history.average_events) > history.average_events * {{ pct }} / 100
