{#- Freshness as a test (the Airflow data_quality DAG runs tests, not `dbt source freshness`): the newest
    raw event must have been loaded within RAW_EVENTS_FRESHNESS_ERROR_HOURS. An empty table fails too. -#}
{{ config(tags=['data_quality']) }}

{%- set error_hours = env_var('RAW_EVENTS_FRESHNESS_ERROR_HOURS', '24') | int %}

select max(loaded_at) as last_loaded_at
from {{ source('raw', 'events') }}
having
    max(loaded_at) is null
    or max(loaded_at) < {{ dbt.dateadd('hour', -error_hours, dbt.current_timestamp()) }}
