{# Rows where an invariant does not hold, e.g. good_count + reject_count = total_count. #}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
