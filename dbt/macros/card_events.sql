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
    load_batch,
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




{#- The attributes of a card version, in the contract's order: what a version is made of and compared on. -#}
{% macro card_attributes() -%}
    {{ return([
        'player_name', 'team', 'sport', 'set_name', 'set_year', 'parallel', 'print_run', 'is_rookie',
        'list_price', 'list_price_currency'
    ]) }}
{%- endmacro %}


{#- `columns` (SQL over alias e) of both catalog event models (card_created, card_updated), rows matching
    `where` (SQL over e): what incremental marts read to know which SKUs' catalog changed. -#}
{% macro catalog_events(columns, where) -%}
    {%- for card_model in ['stg_events__card_created', 'stg_events__card_updated'] %}
    select {{ columns }} from {{ ref(card_model) }} as e
    where {{ where }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{#- R7: the SCD2 versions of the catalog (one row per version, before valid ranges are chained).
    Events of one SKU at the same occurred_at collapse into one instant: applied in tie order card_created
    before card_updated, then event_id, the LAST defines the state at that instant (so no zero-width version
    and no choice left to the engine). An instant whose attributes equal the previous instant's is not a
    version. Emits CTEs (no leading `with`) ending in `card_versions`, to splice into a model's WITH list.
    `skus`: optional SQL selecting the SKUs to derive (an incremental run's touched SKUs); the filter sits on
    the event scans, so only those SKUs' events are read. `since`: optional SQL of a load_batch; only events of
    later batches are read. `seed`: optional SQL of rows in card_events' shape added to the events (a SKU's
    current version, to continue its history from). `prefix`: put before every CTE name, to use this twice. -#}
{% macro card_version_ctes(skus=none, since=none, seed=none, prefix='') -%}
    {%- set card_models = [('stg_events__card_created', 0), ('stg_events__card_updated', 1)] %}
    {{ prefix }}card_events as (
        {%- if seed is not none %}
            {{ seed }}
            union all
        {%- endif %}
        {%- for card_model, tie_order in card_models %}
            select
                e.event_id,
                e.occurred_at,
                e.load_batch as delta_seq,
                {{ tie_order }} as tie_order,
                e.sku,
                {%- for column in card_attributes() %}
                e.{{ column }}{{ ',' if not loop.last }}
                {%- endfor %}
            from {{ ref(card_model) }} as e
            where
                {%- if skus is not none %}
                    e.sku in ({{ skus }})
                {%- else %}
                    true
                {%- endif %}
                {%- if since is not none %}
                    and e.load_batch > ({{ since }})
                {%- endif %}
            {%- if not loop.last %}
                union all
            {%- endif %}
        {%- endfor %}
    ),

    {{ prefix }}instants as (
        select
            *,
            row_number() over (
                partition by sku, occurred_at order by tie_order desc, event_id desc
            ) as instant_rank,
            max(delta_seq) over (partition by sku) as sku_delta_seq
        from {{ prefix }}card_events
    ),

    {{ prefix }}hashed as (
        select
            *,
            {{ hash_key(card_attributes()) }} as attributes_hash
        from {{ prefix }}instants
        where instant_rank = 1
    ),

    {{ prefix }}compared as (
        select
            *,
            lag(attributes_hash) over (partition by sku order by occurred_at) as previous_hash
        from {{ prefix }}hashed
    ),

    {{ prefix }}card_versions as (
        select
            event_id,
            sku,
            player_name,
            team,
            sport,
            set_name,
            set_year,
            parallel,
            print_run,
            is_rookie,
            list_price,
            list_price_currency,
            attributes_hash,
            occurred_at,
            sku_delta_seq
        from {{ prefix }}compared
        where previous_hash is null or previous_hash <> attributes_hash
    )
{%- endmacro %}
