{{ config(group="analytics") }}
-- R12: every staging model's newest load_batch is a batch the ledger holds. A ledger rebuilt under staging
-- tables that kept theirs (its numbering restarted at 1) would hide the next files from them until the ledger
-- caught up; this fails on each staging model that is ahead, naming it (fix: full-refresh staging and marts).
{%- set staged = [
    'stg_events__card_created', 'stg_events__card_updated', 'stg_events__order_placed',
    'stg_events__order_lines', 'stg_events__order_status_changed', 'stg_events__batch_started',
    'stg_events__batch_completed',
] %}
with ledger as (
    select coalesce(max(load_batch), 0) as newest from {{ ref('stg_raw__loaded_files') }}
),

staged as (
    {% for model in staged -%}
        select
            '{{ model }}' as model_name,
            max(load_batch) as newest
        from {{ ref(model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    staged.model_name,
    staged.newest as staged_newest,
    ledger.newest as ledger_newest
from staged
cross join ledger
where staged.newest > ledger.newest
