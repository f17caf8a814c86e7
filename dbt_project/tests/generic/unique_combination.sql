{# Duplicate grain: rows whose key expression (e.g. machine_id || '/' || production_date) repeats. #}
{% test unique_combination(model, expression) %}
select {{ expression }} as grain_key, count(*) as rows_with_key
from {{ model }}
group by 1
having count(*) > 1
{% endtest %}
