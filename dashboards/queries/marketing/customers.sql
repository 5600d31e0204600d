select
    count(*) as customers,
    sum(case when order_count >= 2 then 1 else 0 end) as repeat_customers,
    cast(sum(case when order_count >= 2 then 1 else 0 end) as decimal(38, 9)) / nullif(count(*), 0) as repeat_rate
from marts.dim_customer
