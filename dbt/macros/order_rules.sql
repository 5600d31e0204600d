{#- The order business rules, one definition each (fct_orders, its status model and fct_daily_demand use them).
    Documented with the models in models/marts/_orders.yml. -#}

{#- R5: which of two status changes at the same instant is the current one. A refund or cancellation outranks
    fulfilment, fulfilment outranks payment: a 'delivered' and a 'refunded' at one instant leave the order
    refunded, whatever their event ids. -#}
{% macro order_status_precedence(status) -%}
    case {{ status }}
        when 'refunded' then 5
        when 'cancelled' then 4
        when 'delivered' then 3
        when 'shipped' then 2
        when 'paid' then 1
        else 0
    end
{%- endmacro %}

{#- R6: the statuses whose lines are net revenue: paid and not reversed. A placed (unpaid) order is not revenue
    yet; a cancelled or refunded one no longer is (refunds are whole-order: the contract has no partial refund). -#}
{% macro is_revenue_status(status) -%}
    {{ status }} in ('paid', 'shipped', 'delivered')
{%- endmacro %}

{#- R5: the current status of every order with at least one status change, as CTEs (no leading `with`) ending in
    `current_status`, to splice into a model's WITH list: the latest by occurred_at; at the same instant the
    status of higher precedence, and only then event_id, so equal instants never depend on a random id. Orders
    without one are 'placed'. `order_ids`: optional SQL selecting the orders to derive (an incremental run's
    touched orders); the filter sits on the scan, so only their status changes are ranked. -#}
{% macro order_status_ctes(order_ids=none) -%}
    status_ranked as (
        select
            s.order_id,
            s.status,
            s.reason,
            s.occurred_at,
            row_number() over (
                partition by s.order_id
                order by s.occurred_at desc, {{ order_status_precedence('s.status') }} desc, s.event_id desc
            ) as recency,
            max(s.loaded_at) over (partition by s.order_id) as last_loaded_at,
            max(s.load_batch) over (partition by s.order_id) as last_load_batch
        from {{ ref('stg_events__order_status_changed') }} as s
        {%- if order_ids is not none %}
            where {{ rows_with_key_in('s', ref('stg_events__order_status_changed'), 'order_id', order_ids) }}
        {%- endif %}
    ),

    current_status as (
        select
            order_id,
            status,
            reason,
            occurred_at as status_changed_at,
            last_loaded_at,
            last_load_batch
        from status_ranked
        where recency = 1
    )
{%- endmacro %}
