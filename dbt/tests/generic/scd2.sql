{#- SCD2 invariants of a versioned dimension: `column_name` is the natural key, versions are valid over
    [valid_from, valid_to), valid_to null on the open (current) version. Each returns the offending keys. -#}

{#- Exactly one current row per key, and it is the open-ended one. -#}
{% test scd2_one_current_row(model, column_name, valid_to='valid_to', is_current='is_current') %}
select {{ column_name }} as natural_key, count(*) as rows_total,
       sum(case when {{ is_current }} then 1 else 0 end) as current_rows,
       sum(case when {{ valid_to }} is null then 1 else 0 end) as open_rows,
       sum(case when {{ is_current }} and {{ valid_to }} is null then 1 else 0 end) as open_current_rows
from {{ model }}
group by {{ column_name }}
having sum(case when {{ is_current }} then 1 else 0 end) <> 1
    or sum(case when {{ valid_to }} is null then 1 else 0 end) <> 1
    or sum(case when {{ is_current }} and {{ valid_to }} is null then 1 else 0 end) <> 1
{% endtest %}

{#- No two versions of a key overlap: every instant belongs to at most one version (two rows with the
    same window overlap too). -#}
{% test scd2_no_overlap(model, column_name, valid_from='valid_from', valid_to='valid_to') %}
with numbered as (
    select
        {{ column_name }} as natural_key,
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        row_number() over (partition by {{ column_name }} order by {{ valid_from }}, {{ valid_to }}) as row_no
    from {{ model }}
)
select a.natural_key, a.valid_from, a.valid_to, b.valid_from as other_valid_from, b.valid_to as other_valid_to
from numbered as a
inner join numbered as b on a.natural_key = b.natural_key and a.row_no < b.row_no
where (a.valid_to is null or b.valid_from < a.valid_to)
    and (b.valid_to is null or a.valid_from < b.valid_to)
{% endtest %}

{#- No gap between consecutive versions: each closed version ends where the next one starts. -#}
{% test scd2_no_gaps(model, column_name, valid_from='valid_from', valid_to='valid_to') %}
select natural_key, valid_from, valid_to, next_valid_from
from (
    select
        {{ column_name }} as natural_key,
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        lead({{ valid_from }}) over (partition by {{ column_name }} order by {{ valid_from }}) as next_valid_from
    from {{ model }}
) as chained
where next_valid_from is not null and (valid_to is null or valid_to <> next_valid_from)
{% endtest %}

{#- No zero-width (or negative) version: valid_from < valid_to whenever valid_to is set. -#}
{% test scd2_no_zero_width(model, column_name, valid_from='valid_from', valid_to='valid_to') %}
select {{ column_name }} as natural_key, {{ valid_from }} as valid_from, {{ valid_to }} as valid_to
from {{ model }}
where {{ valid_to }} is not null and {{ valid_to }} <= {{ valid_from }}
{% endtest %}

{#- The first version of every key starts at `beginning` (backdated), so every instant from then on has
    exactly one version (with no_overlap, no_gaps and one open current row). -#}
{% test scd2_starts_at(model, column_name, beginning, valid_from='valid_from') %}
select {{ column_name }} as natural_key, min({{ valid_from }}) as first_valid_from
from {{ model }}
group by {{ column_name }}
having min({{ valid_from }}) > cast('{{ beginning }}' as timestamp with time zone)
{% endtest %}
