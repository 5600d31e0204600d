select
    facility,
    count(*) as batches,
    sum(case when is_completed then 1 else 0 end) as batches_completed,
    sum(case when is_completed then 0 else 1 end) as batches_running,
    sum(planned_units) as planned_units,
    sum(produced_units) as produced_units,
    sum(defective_units) as defective_units,
    cast(sum(defective_units) as decimal(38, 9)) / nullif(sum(produced_units), 0) as defect_rate
from marts.fct_batch_performance
group by facility
order by facility
