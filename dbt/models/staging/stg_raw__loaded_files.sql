{#- R12: the ledger of the RAW event files staging has taken in, numbered by load_batch. Each run appends, as
    one new batch, the files raw.load_audit holds that the ledger has not (anti-join on file_name and the
    audit's loaded_at, never a clock comparison), so a file committed late, behind newer ones and with any
    timestamp, is in the next batch; a file the loader replaced (same name, new loaded_at) is taken again.
    The loader commits a file's rows with its audit row, so every row of a ledgered file is in raw.events.
    Staging models read exactly the rows of the files in batches above their own newest load_batch.
    full_refresh=false: a full refresh of staging rebuilds from this ledger; restarting its numbering under
    marts that keep theirs would hide the next files from them. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail'
) }}

{%- set next_batch -%}
    {%- if is_incremental() -%}
        (select coalesce(max(t.load_batch), 0) + 1 from {{ this }} as t)
    {%- else -%}
        1
    {%- endif -%}
{%- endset %}

with audited as (
    select
        a.file_name,
        a.loaded_at
    from {{ source('raw', 'load_audit') }} as a
    where a.kind = 'events'
)

select
    cast(a.file_name as varchar) as file_name,
    cast(a.loaded_at as timestamptz) as loaded_at,
    cast({{ next_batch }} as bigint) as load_batch
from audited as a
{%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as t
        where t.file_name = a.file_name and t.loaded_at = a.loaded_at
    )
{%- endif %}
