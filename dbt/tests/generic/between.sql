{#- Fails on every non-null value outside [min_value, max_value], e.g. a defect rate outside [0, 1]. -#}
{% test between(model, column_name, min_value, max_value) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
