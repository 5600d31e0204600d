-- Catalog attribute versions per SKU (R7): one row per instant that changes a tracked attribute, the last
-- event of the instant in tie order (card_created before card_updated, then event_id). dim_card chains them
-- into valid ranges; the rule itself is the card_version_ctes macro, which dim_card runs on touched SKUs only.
with
{{ card_version_ctes() }}

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
    occurred_at
from card_versions
