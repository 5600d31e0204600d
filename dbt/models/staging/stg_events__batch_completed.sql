{{ config(unique_key='event_id', incremental_strategy='append') }}

with events as (
    {{ new_raw_events('batch_completed') }}
)

select
    event_id,
    occurred_at,
    loaded_at,
    load_batch,
    {{ json_text('payload', 'batch_id') }} as batch_id,
    {{ json_text('payload', 'sku') }} as sku,
    {{ json_text('payload', 'facility') }} as facility,
    cast({{ json_text('payload', 'planned_units') }} as integer) as planned_units,
    cast({{ json_text('payload', 'produced_units') }} as integer) as produced_units,
    cast({{ json_text('payload', 'defective_units') }} as integer) as defective_units
from events
