-- SCD type 2 over the catalog attributes: one row per SKU version, valid over [valid_from, valid_to).
select
    {{ hash_key(['sku', 'valid_from']) }} as card_key,
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
    valid_from,
    lead(valid_from) over (partition by sku order by valid_from) as valid_to,
    lead(valid_from) over (partition by sku order by valid_from) is null as is_current,
    event_id as source_event_id
from {{ ref('int_card_versions') }}
