select
    batch_id,
    facility,
    sku,
    started_at,
    planned_units
from marts.fct_batch_performance
where not is_completed
order by started_at, batch_id
limit 50
