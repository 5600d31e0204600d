-- The current status of every order that has at least one status change (R5, macro order_status_ctes: the
-- latest by occurred_at, same-instant ties by status precedence, then event_id). Orders without one are
-- 'placed'. fct_orders derives the same CTEs for its touched orders only.
with {{ order_status_ctes() }}

select * from current_status
