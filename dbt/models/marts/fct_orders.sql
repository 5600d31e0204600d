{#- Order-line grain. Incremental delete+insert by order_id (R4): every order touched since the last run (an
    order_placed, a status change, or a catalog event of one of its SKUs, staged from a file of a load_batch
    above the table's max(last_load_batch), R12) is re-derived in full from staging and replaces all of that
    order's rows, so a late refund restates it, a re-sent order with fewer lines drops the stale ones, and a
    card that arrives after its orders re-points their card_key from the inferred member to the real version. -#}
-- depends_on: {{ ref('stg_events__card_created') }}
-- depends_on: {{ ref('stg_events__card_updated') }}
-- The calendar is built first, so the order_date relationship test never races it (write-audit-publish).
-- depends_on: {{ ref('dim_date') }}
{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with
{%- if is_incremental() %}
    watermark as (
        select ({{ staged_through('last_load_batch') }}) as since
    ),

    new_card_events as (
        {{ catalog_events('e.sku, e.occurred_at', 'e.load_batch > (select w.since from watermark as w)') }}
    ),

    carded_skus as (
        -- R9: the SKUs with catalog events staged since the last run, and from when their orders may point
        -- at another version: the earliest new event's instant; all of them (repoint_from null) when a new
        -- event is the SKU's first, since the backdated first version covers every earlier order.
        select
            n.sku,
            case when n.first_new_at > a.first_at then n.first_new_at end as repoint_from
        from (
            select
                e.sku,
                min(e.occurred_at) as first_new_at
            from new_card_events as e
            group by e.sku
        ) as n
        inner join (
            select
                e.sku,
                min(e.occurred_at) as first_at
            from (
                {{ catalog_events('e.sku, e.occurred_at', 'e.sku in (select x.sku from new_card_events as x)') }}
            ) as e
            group by e.sku
        ) as a on n.sku = a.sku
    ),

    touched_orders as (
        select p.order_id from {{ ref('stg_events__order_placed') }} as p
        where p.load_batch > (select w.since from watermark as w)
        union
        select s.order_id from {{ ref('stg_events__order_status_changed') }} as s
        where s.load_batch > (select w.since from watermark as w)
        union
        select l.order_id from {{ ref('stg_events__order_lines') }} as l
        inner join carded_skus as c on l.sku = c.sku
        where c.repoint_from is null or l.occurred_at >= c.repoint_from
    ),
{%- endif %}

{{ order_status_ctes('select t.order_id from touched_orders as t' if is_incremental() else none) }},

placed as (
    -- R4: one order_placed per order_id, the latest by occurred_at (a producer re-sending an order corrects
    -- it, lines included); at the same instant the greater event_id. placements_load_batch: the newest
    -- batch of any placement of the order, so an older re-send staged later still advances the watermark.
    select *
    from (
        select
            o.*,
            row_number() over (partition by o.order_id order by o.occurred_at desc, o.event_id desc)
                as placement_rank,
            max(o.loaded_at) over (partition by o.order_id) as placements_loaded_at,
            max(o.load_batch) over (partition by o.order_id) as placements_load_batch
        from {{ ref('stg_events__order_placed') }} as o
        {%- if is_incremental() %}
            where {{ rows_with_key_in(
                'o', ref('stg_events__order_placed'), 'order_id', 'select t.order_id from touched_orders as t'
            ) }}
        {%- endif %}
    ) as ranked
    where placement_rank = 1
),

lines as (
    select l.*
    from {{ ref('stg_events__order_lines') }} as l
    inner join placed on l.event_id = placed.event_id
),

order_lines as (
    select
        lines.order_id,
        lines.line_number,
        placed.customer_id,
        placed.channel,
        placed.currency_code,
        lines.sku,
        placed.occurred_at as ordered_at,
        lines.quantity,
        lines.unit_price,
        coalesce(status.status, 'placed') as order_status,
        status.reason as status_reason,
        status.status_changed_at,
        {{ greater_of('placed.placements_loaded_at', 'status.last_loaded_at') }} as last_loaded_at,
        {{ greater_of('placed.placements_load_batch', 'status.last_load_batch') }} as order_load_batch
    from lines
    inner join placed on lines.event_id = placed.event_id
    left join current_status as status on lines.order_id = status.order_id
)

select
    cast({{ hash_key(['o.order_id', 'o.line_number']) }} as varchar) as order_line_key,
    cast(o.order_id as varchar) as order_id,
    cast(o.line_number as integer) as line_number,
    -- R9: the card version in effect when the order was placed (dim_card covers every instant of every
    -- ordered SKU: backdated first versions and inferred members, so exactly one row matches).
    cast(card.card_key as varchar) as card_key,
    cast(o.customer_id as varchar) as customer_id,
    cast(o.channel as varchar) as channel,
    cast(o.currency_code as varchar) as currency_code,
    cast(o.sku as varchar) as sku,
    cast(o.ordered_at as timestamptz) as ordered_at,
    cast({{ utc_date('o.ordered_at') }} as date) as order_date,
    cast(o.quantity as integer) as quantity,
    cast(o.unit_price as decimal(38, 9)) as unit_price,
    cast(o.quantity * o.unit_price as decimal(38, 9)) as gross_revenue,
    cast(
        case when {{ is_revenue_status('o.order_status') }} then o.quantity * o.unit_price else 0 end
        as decimal(38, 9)
    ) as net_revenue,
    cast(o.order_status as varchar) as order_status,
    cast(o.status_reason as varchar) as status_reason,
    cast(o.status_changed_at as timestamptz) as status_changed_at,
    cast(o.last_loaded_at as timestamptz) as last_loaded_at,
    -- R12: the newest load_batch among the order's placements, status changes and its card version, the
    -- incremental watermark (a catalog-only batch advances it too, so it is not re-read next run).
    cast(
        {{ greater_of('o.order_load_batch', 'card.last_load_batch') }} as bigint
    ) as last_load_batch
from order_lines as o
left join {{ ref('dim_card') }} as card
    on
        o.sku = card.sku
        and o.ordered_at >= card.valid_from
        and (card.valid_to is null or o.ordered_at < card.valid_to)
