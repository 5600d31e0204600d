-- Completed batches only: a running batch has produced nothing yet.
select
    cast(completed_at as date) as completed_date,
    facility,
    cast(sum(defective_units) as decimal(38, 9)) / nullif(sum(produced_units), 0) as defect_rate
from marts.fct_batch_performance
where is_completed
group by 1, 2
order by 1, 2
