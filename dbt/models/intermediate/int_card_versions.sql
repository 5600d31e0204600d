-- Catalog attribute versions per SKU: card_created and card_updated in occurred_at order, keeping an event only
-- when one of the tracked attributes differs from the previous event's (an update that changes nothing is not
-- a new version).
{%- set card_models = ['stg_events__card_created', 'stg_events__card_updated'] %}

with card_events as (
    {%- for card_model in card_models %}
        select
            event_id,
            occurred_at,
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
            list_price_currency
        from {{ ref(card_model) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

hashed as (
    select
        *,
        {{ hash_key([
            'player_name', 'team', 'sport', 'set_name', 'set_year', 'parallel', 'print_run', 'is_rookie',
            'list_price', 'list_price_currency'
        ]) }} as attributes_hash
    from card_events
),

compared as (
    select
        *,
        lag(attributes_hash) over (partition by sku order by occurred_at, event_id) as previous_hash
    from hashed
)

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
    occurred_at as valid_from
from compared
where previous_hash is null or previous_hash <> attributes_hash
