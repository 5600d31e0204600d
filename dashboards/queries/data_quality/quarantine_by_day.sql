select
    cast(loaded_at as date) as load_date,
    reason,
    count(*) as events
from raw.quarantine
group by 1, 2
order by 1, 2
