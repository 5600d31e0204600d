select
    facility,
    sku,
    count(*) as batches,
    sum(produced_units) as produced_units,
    sum(defective_units) as defective_units,
    cast(sum(defective_units) as decimal(38, 9)) / nullif(sum(produced_units), 0) as defect_rate
from marts.fct_batch_performance
where is_completed
group by facility, sku
order by defect_rate desc nulls last, facility asc, sku asc
limit 20
