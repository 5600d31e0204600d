{#- R14: the orders fct_orders re-derived since an incremental mart built on it last ran: fct_orders rows whose
    last_load_batch is above the mart's own max(last_load_batch). A re-derived order's rows carry at least the
    batch that touched it, and fct_orders runs first in the same invocation, so none is missed. -#}
{% macro orders_rederived_since_last_run() -%}
    select distinct f.order_id
    from {{ ref('fct_orders') }} as f
    where f.last_load_batch > ({{ staged_through('last_load_batch') }})
{%- endmacro %}


{#- delete+insert deletes only the keys the new rows carry: a key that lost every row (a re-sent order moved to
    another customer or day) is written as a zero row (order_count 0), which deletes the old one, and this
    post-hook then removes the zero row in the same run. -#}
{% macro delete_emptied_keys() -%}
    delete from {{ this }} where order_count = 0
{%- endmacro %}
