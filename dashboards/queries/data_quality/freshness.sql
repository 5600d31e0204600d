select
    max(loaded_at) as last_loaded_at,
    max(occurred_at) as last_occurred_at,
    count(*) as raw_events
from raw.events
