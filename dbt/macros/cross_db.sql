{#- Dialect differences live here, behind adapter.dispatch: one set of models for DuckDB and Snowflake. -#}

{#- Text of a JSON path (dotted, e.g. 'list_price.amount') in a JSON/VARIANT column; JSON null -> SQL null. -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'sportscards')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    json_extract_path_text({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    ({{ column }} ->> '$.{{ path }}')
{%- endmacro %}

{% macro snowflake__json_text(column, path) -%}
    {{ column }}:{{ path }}::varchar
{%- endmacro %}

{#- A join clause that turns the JSON array at `path` into one row per element, exposed as `alias.value`. -#}
{% macro flatten_json_array(column, path, alias) -%}
    {{ return(adapter.dispatch('flatten_json_array', 'sportscards')(column, path, alias)) }}
{%- endmacro %}

{% macro default__flatten_json_array(column, path, alias) -%}
    {{ exceptions.raise_compiler_error("flatten_json_array is not implemented for " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__flatten_json_array(column, path, alias) -%}
    cross join unnest(json_extract({{ column }}, '$.{{ path }}[*]')) as {{ alias }} (value)
{%- endmacro %}

{% macro snowflake__flatten_json_array(column, path, alias) -%}
    cross join lateral flatten(input => {{ column }}:{{ path }}) as {{ alias }}
{%- endmacro %}

{#- The UTC calendar date of a timestamp with time zone, whatever the session time zone is. -#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date', 'sportscards')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    cast({{ column }} at time zone 'UTC' as date)
{%- endmacro %}

{% macro duckdb__utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
{%- endmacro %}

{% macro snowflake__utc_date(column) -%}
    to_date(convert_timezone('UTC', {{ column }}))
{%- endmacro %}

{#- ISO day of week, Monday = 1 .. Sunday = 7. -#}
{% macro iso_day_of_week(column) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'sportscards')(column)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(column) -%}
    extract(isodow from {{ column }})
{%- endmacro %}

{% macro snowflake__iso_day_of_week(column) -%}
    dayofweekiso({{ column }})
{%- endmacro %}

{#- The integers 0 .. count - 1, column day_number (count a constant: Snowflake's generator needs one).
    dim_date offsets its first day by them and keeps those up to its last day. -#}
{% macro day_numbers(count) -%}
    {{ return(adapter.dispatch('day_numbers', 'sportscards')(count)) }}
{%- endmacro %}

{% macro default__day_numbers(count) -%}
    select cast(n.generate_series as integer) as day_number from generate_series(0, {{ count | int }} - 1) as n
{%- endmacro %}

{% macro snowflake__day_numbers(count) -%}
    {#- seq4() may have gaps: number the rows with row_number(). -#}
    select row_number() over (order by seq4()) - 1 as day_number
    from table(generator(rowcount => {{ count | int }}))
{%- endmacro %}

{#- First capture group of a regular expression, null when it does not match. -#}
{% macro regex_group(column, pattern) -%}
    {{ return(adapter.dispatch('regex_group', 'sportscards')(column, pattern)) }}
{%- endmacro %}

{% macro default__regex_group(column, pattern) -%}
    nullif(regexp_extract({{ column }}, '{{ pattern }}', 1), '')
{%- endmacro %}

{% macro snowflake__regex_group(column, pattern) -%}
    regexp_substr({{ column }}, '{{ pattern }}', 1, 1, 'e', 1)
{%- endmacro %}

{#- A deterministic surrogate key over columns (nulls kept distinct from empty strings). -#}
{% macro hash_key(columns) -%}
    md5({%- for c in columns %}coalesce(cast({{ c }} as varchar), '~null~'){{ " || '|' || " if not loop.last }}{%- endfor %})
{%- endmacro %}


{#- A filter keeping the rows of `relation` (aliased `alias` in the query) whose `column` is in `keys_sql`: how
    incremental models look up the history of the few keys a run touches. DuckDB has no index for a join and
    decodes every projected column of every row before a semi-join drops them, so it matches the key column
    alone and fetches the matching rows by rowid (fct_orders' status lookup at 10M events: 0.54 s -> 0.40 s).
    Snowflake prunes and projects on its own: a plain IN. -#}
{% macro rows_with_key_in(alias, relation, column, keys_sql) -%}
    {{ return(adapter.dispatch('rows_with_key_in', 'sportscards')(alias, relation, column, keys_sql)) }}
{%- endmacro %}

{% macro default__rows_with_key_in(alias, relation, column, keys_sql) -%}
    {{ alias }}.{{ column }} in ({{ keys_sql }})
{%- endmacro %}

{% macro duckdb__rows_with_key_in(alias, relation, column, keys_sql) -%}
    {%- if '__dbt__cte__' in (relation | string) %}
    {#- A unit test's fixture is a CTE, which has no rowid. #}
    {{ default__rows_with_key_in(alias, relation, column, keys_sql) }}
    {%- else %}
    {{ alias }}.rowid in (
        select k.rowid from {{ relation }} as k
        where k.{{ column }} in ({{ keys_sql }})
    )
    {%- endif %}
{%- endmacro %}


{#- The greater of two values, the other one when one is null (Snowflake's GREATEST is null if any argument
    is; DuckDB's ignores nulls): how watermarks and latest instants are combined. -#}
{% macro greater_of(a, b) -%}
    case when {{ b }} is null or {{ a }} > {{ b }} then {{ a }} else {{ b }} end
{%- endmacro %}
