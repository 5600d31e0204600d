-- The five SKUs with the most units produced, their defect rate per completion week (completed batches).
with top_skus as (
    select sku
    from marts.fct_batch_performance
    where is_completed
    group by sku
    order by sum(produced_units) desc, sku asc
    limit 5
)

select
    cast(date_trunc('week', b.completed_at) as date) as completed_week,
    b.sku,
    cast(sum(b.defective_units) as decimal(38, 9)) / nullif(sum(b.produced_units), 0) as defect_rate
from marts.fct_batch_performance as b
inner join top_skus as t on b.sku = t.sku
where b.is_completed
group by 1, 2
order by 1, 2
