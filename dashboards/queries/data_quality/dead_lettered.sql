-- What the dead-letter drain landed (quarantine reason dead_lettered); the queue's live depth is not in the
-- warehouse.
select count(*) as dead_lettered
from raw.quarantine
where reason = 'dead_lettered'
