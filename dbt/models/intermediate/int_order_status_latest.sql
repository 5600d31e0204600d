-- The current status of every order that has at least one status change: the latest by occurred_at
-- (ties broken by event_id so the answer is deterministic). Orders without one are 'placed' (fct_orders).
with ranked as (
    select
        order_id,
        status,
        reason,
        occurred_at,
        loaded_at,
        row_number() over (partition by order_id order by occurred_at desc, event_id desc) as recency,
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
