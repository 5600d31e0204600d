-- Calendar days (UTC) from var date_spine_start to var date_spine_end.
with spine as (
    {{ date_spine(var('date_spine_start'), var('date_spine_end')) }}
)

select
    date_day,
    cast(extract(year from date_day) as integer) as year_number,
    cast(extract(quarter from date_day) as integer) as quarter_number,
    cast(extract(month from date_day) as integer) as month_number,
    cast(extract(day from date_day) as integer) as day_of_month,
    cast({{ iso_day_of_week('date_day') }} as integer) as iso_day_of_week,
    {{ iso_day_of_week('date_day') }} in (6, 7) as is_weekend
from spine
