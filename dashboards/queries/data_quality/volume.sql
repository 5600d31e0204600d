-- Events per UTC day (occurred_at) against the average of the seven days before.
with daily as (
    select
        cast(occurred_at as date) as event_date,
        count(*) as events
    from raw.events
    group by 1
)

select
    event_date,
    events,
    avg(events) over (order by event_date rows between 7 preceding and 1 preceding) as rolling_avg_7d
from daily
order by event_date
