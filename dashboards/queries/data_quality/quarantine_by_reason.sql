select
    reason,
    source,
    count(*) as events
from raw.quarantine
group by reason, source
order by events desc, reason asc, source asc
