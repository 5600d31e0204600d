-- The current status of every order that has at least one status change: the latest by occurred_at; at the
-- same instant the status of higher precedence (R5: refunded > cancelled > delivered > shipped > paid), and
-- only then event_id, so equal instants never depend on a random id. Orders without one are 'placed'.
with ranked as (
    select
        order_id,
        status,
        reason,
        occurred_at,
        loaded_at,
        row_number() over (
            partition by order_id
            order by occurred_at desc, {{ order_status_precedence('status') }} desc, event_id desc
        ) as recency,
        max(loaded_at) over (partition by order_id) as last_loaded_at
    from {{ ref('stg_events__order_status_changed') }}
)

select
    order_id,
    status,
    reason,
    occurred_at as status_changed_at,
    last_loaded_at
from ranked
where recency = 1
