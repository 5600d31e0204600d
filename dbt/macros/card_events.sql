{#- The typed columns of a catalog event. card_created and card_updated carry the same full card state
    (state-carried updates), so their staging models share this one definition. -#}
{% macro stg_card_event(event_type) -%}
with events as (
    {{ new_raw_events(event_type) }}
)

select
    event_id,
    occurred_at,
    loaded_at,
    {{ json_text('payload', 'sku') }} as sku,
    {{ json_text('payload', 'player_name') }} as player_name,
    {{ json_text('payload', 'team') }} as team,
    {{ json_text('payload', 'sport') }} as sport,
    {{ json_text('payload', 'set_name') }} as set_name,
    cast({{ json_text('payload', 'set_year') }} as integer) as set_year,
    {{ json_text('payload', 'parallel') }} as parallel,
    cast({{ json_text('payload', 'print_run') }} as integer) as print_run,
    cast({{ json_text('payload', 'is_rookie') }} as boolean) as is_rookie,
    cast({{ json_text('payload', 'list_price.amount') }} as decimal(38, 9)) as list_price,
    {{ json_text('payload', 'list_price.currency_code') }} as list_price_currency
from events
{%- endmacro %}
