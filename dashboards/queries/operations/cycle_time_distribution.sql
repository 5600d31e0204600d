-- Twenty buckets over the observed range, in minutes; batches with inconsistent times are left out.
with batches as (
    select cycle_time_seconds / 60.0 as cycle_minutes
    from marts.fct_batch_performance
    where is_completed and not has_inconsistent_times and cycle_time_seconds is not null
),

width as (
    select greatest(ceil(max(cycle_minutes) / 20), 1) as minutes
    from batches
)

select
    floor(b.cycle_minutes / w.minutes) * w.minutes as minutes_from,
    floor(b.cycle_minutes / w.minutes) * w.minutes + w.minutes as minutes_to,
    count(*) as batches
from batches as b
cross join width as w
group by 1, 2
order by 1
