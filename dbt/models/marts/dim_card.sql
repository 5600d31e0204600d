{#- SCD2 over the catalog (R7) with inferred members (R8). Incremental delete+insert by SKU: a run re-derives,
    in full and from staging, exactly the SKUs whose rows can change since its last run (files with load_batch
    above the table's max(last_load_batch)): those with new card events, and those ordered for the first time
    (their inferred member). A new order line of a SKU already here changes none of its rows, so it is not
    re-derived (every SKU has orders in most loads: that re-read the whole catalog); only the SKU of the newest
    new order line is, so that the watermark advances with every load that reaches this model.
    A SKU whose new card events all come after every event already derived (the usual case: a catalog
    publishes in order) is continued, not re-derived: its earlier versions stand, so they are copied from the
    table, and the SCD2 rules run on its current version plus the new events only (with ~140 versions a SKU,
    re-deriving every touched SKU cost most of this model's run). -#}
-- Built after int_card_versions, so the test that compares the two runs with this model (Airflow builds each
-- model with its tests, indirect selection "buildable"). depends_on: {{ ref('int_card_versions') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='sku',
    on_schema_change='fail'
) }}

{%- set beginning = var('scd2_beginning_of_time') %}

with
{%- if is_incremental() %}
    watermark as (
        select ({{ staged_through('last_load_batch') }}) as since
    ),

    new_line_skus as (
        select
            l.sku,
            row_number() over (order by max(l.load_batch) desc, l.sku) as newest_rank
        from {{ ref('stg_events__order_lines') }} as l
        where l.load_batch > (select w.since from watermark as w)
        group by l.sku
    ),

    new_card_events as (
        {{ catalog_events(
            'e.sku, e.occurred_at, e.load_batch', 'e.load_batch > (select w.since from watermark as w)'
        ) }}
    ),

    catalog_skus as (
        select
            sku,
            min(occurred_at) as first_new_at,
            max(load_batch) as newest_batch
        from new_card_events
        group by sku
    ),

    derived_until as (
        -- The latest instant among each catalog SKU's events this table has already derived.
        select
            e.sku,
            max(e.occurred_at) as last_derived_at
        from (
            {{ catalog_events(
                'e.sku, e.occurred_at',
                'e.load_batch <= (select w.since from watermark as w)'
                ~ ' and e.sku in (select k.sku from catalog_skus as k)'
            ) }}
        ) as e
        group by e.sku
    ),

    continued_skus as (
        -- New events strictly after everything derived, and a real (not inferred) current version to
        -- continue from: the earlier versions cannot change.
        select
            k.sku,
            k.newest_batch
        from catalog_skus as k
        inner join derived_until as d on k.sku = d.sku
        where
            k.first_new_at > d.last_derived_at
            and exists (
                select 1 from {{ this }} as t
                where t.sku = k.sku and t.is_current and not t.is_inferred
            )
    ),

    touched_skus as (
        -- Re-derived in full from staging.
        select k.sku from catalog_skus as k
        where not exists (select 1 from continued_skus as c where c.sku = k.sku)
        union
        select n.sku from new_line_skus as n
        where
            (n.newest_rank = 1 or not exists (select 1 from {{ this }} as t where t.sku = n.sku))
            and not exists (select 1 from continued_skus as c where c.sku = n.sku)
    ),

    ordered_skus as (
        -- New order lines of touched SKUs, plus what the table already knew of them: together, all of
        -- their order lines' delta_seq (older lines were counted by an earlier run).
        select
            l.sku,
            max(l.load_batch) as sku_delta_seq
        from {{ ref('stg_events__order_lines') }} as l
        where
            l.load_batch > (select w.since from watermark as w)
            and l.sku in (select s.sku from touched_skus as s)
        group by l.sku
        union all
        select
            t.sku,
            max(t.last_load_batch) as sku_delta_seq
        from {{ this }} as t
        where t.sku in (select s.sku from touched_skus as s)
        group by t.sku
    ),
{%- else %}
    ordered_skus as (
        select
            l.sku,
            max(l.load_batch) as sku_delta_seq
        from {{ ref('stg_events__order_lines') }} as l
        group by l.sku
    ),
{%- endif %}

{{ card_version_ctes('select s.sku from touched_skus as s' if is_incremental() else none) }},
{%- if is_incremental() %}

    continued_current as (
        select t.*
        from {{ this }} as t
        where t.is_current and t.sku in (select c.sku from continued_skus as c)
    ),

    {{ card_version_ctes(
        skus='select c.sku from continued_skus as c',
        since='select w.since from watermark as w',
        seed='select t.source_event_id as event_id, t.source_occurred_at as occurred_at,'
            ~ ' t.last_load_batch as delta_seq, -1 as tie_order, t.sku, t.'
            ~ card_attributes() | join(', t.') ~ ' from continued_current as t',
        prefix='continued_'
    ) }},

    continued_batch as (
        -- The newest batch a continued SKU's rows reflect: its rows here, its new events and new lines.
        select
            c.sku,
            max(b.load_batch) as last_load_batch
        from continued_skus as c
        inner join (
            select t.sku, t.last_load_batch as load_batch from {{ this }} as t
            union all
            select k.sku, k.newest_batch from continued_skus as k
            union all
            select l.sku, l.load_batch from {{ ref('stg_events__order_lines') }} as l
            where l.load_batch > (select w.since from watermark as w)
        ) as b on c.sku = b.sku
        group by c.sku
    ),

    continued_rows as (
        -- The current version (its valid_to closed when a new version follows) and the new versions.
        select
            {{ hash_key(['v.event_id']) }} as card_key,
            v.sku,
            {%- for column in card_attributes() %}
            v.{{ column }},
            {%- endfor %}
            case when v.event_id = cur.source_event_id then cur.valid_from else v.occurred_at end as valid_from,
            lead(v.occurred_at) over (partition by v.sku order by v.occurred_at) as valid_to,
            lead(v.occurred_at) over (partition by v.sku order by v.occurred_at) is null as is_current,
            false as is_inferred,
            v.event_id as source_event_id,
            v.occurred_at as source_occurred_at,
            b.last_load_batch
        from continued_card_versions as v
        inner join continued_current as cur on v.sku = cur.sku
        inner join continued_batch as b on v.sku = b.sku
    ),

    continued_history as (
        -- Their earlier versions, as they are.
        select
            t.card_key,
            t.sku,
            {%- for column in card_attributes() %}
            t.{{ column }},
            {%- endfor %}
            t.valid_from,
            t.valid_to,
            t.is_current,
            t.is_inferred,
            t.source_event_id,
            t.source_occurred_at,
            b.last_load_batch
        from {{ this }} as t
        inner join continued_batch as b on t.sku = b.sku
        where not t.is_current
    ),
{%- endif %}

chained as (
    select
        v.*,
        row_number() over (partition by v.sku order by v.occurred_at) as version_no,
        lead(v.occurred_at) over (partition by v.sku order by v.occurred_at) as next_from
    from card_versions as v
),

order_seq as (
    select
        sku,
        max(sku_delta_seq) as sku_delta_seq
    from ordered_skus
    group by sku
),

catalog_rows as (
    select
        {{ hash_key(['chained.event_id']) }} as card_key,
        chained.sku,
        chained.player_name,
        chained.team,
        chained.sport,
        chained.set_name,
        chained.set_year,
        chained.parallel,
        chained.print_run,
        chained.is_rookie,
        chained.list_price,
        chained.list_price_currency,
        -- The first version is backdated so that orders placed before the SKU's first catalog event
        -- point at it (and an event dated before the beginning of time keeps its own instant).
        case
            when chained.version_no = 1
                then least(cast('{{ beginning }}' as timestamptz), chained.occurred_at)
            else chained.occurred_at
        end as valid_from,
        chained.next_from as valid_to,
        chained.next_from is null as is_current,
        false as is_inferred,
        chained.event_id as source_event_id,
        chained.occurred_at as source_occurred_at,
        {{ greater_of('chained.sku_delta_seq', 'order_seq.sku_delta_seq') }} as last_load_batch
    from chained
    left join order_seq on chained.sku = order_seq.sku
),

inferred_rows as (
    -- R8: an ordered SKU with no catalog event yet: one placeholder row over all time, replaced (deleted
    -- with its SKU) when the SKU's first catalog event arrives.
    select
        {{ hash_key(["'inferred'", 'order_seq.sku']) }} as card_key,
        order_seq.sku,
        cast(null as varchar) as player_name,
        cast(null as varchar) as team,
        cast(null as varchar) as sport,
        cast(null as varchar) as set_name,
        cast(null as integer) as set_year,
        cast(null as varchar) as parallel,
        cast(null as integer) as print_run,
        cast(null as boolean) as is_rookie,
        cast(null as decimal(38, 9)) as list_price,
        cast(null as varchar) as list_price_currency,
        cast('{{ beginning }}' as timestamptz) as valid_from,
        cast(null as timestamptz) as valid_to,
        true as is_current,
        true as is_inferred,
        cast(null as varchar) as source_event_id,
        cast(null as timestamptz) as source_occurred_at,
        order_seq.sku_delta_seq as last_load_batch
    from order_seq
    where not exists (
        select 1 from card_versions as v
        where v.sku = order_seq.sku
    )
)

select * from catalog_rows
union all
select * from inferred_rows
{%- if is_incremental() %}
    union all
    select * from continued_rows
    union all
    select * from continued_history
{%- endif %}
