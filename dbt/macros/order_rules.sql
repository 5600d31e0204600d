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
