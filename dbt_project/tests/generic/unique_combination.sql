{# Duplicate grain: rows whose combination of `columns` repeats (two missing values count as the same).
   In two steps, exact: the 64-bit hashes of the combinations that repeat, then the columns of only those
   rows. Grouping one fixed-width column stays within DuckDB's memory limit (it spills); grouping the
   columns themselves, or one text built of them, ran the 51 M sensor readings of an L-program client out
   of memory. #}
{% test unique_combination(model, columns) %}
{%- set key = columns | join(', ') %}
with repeated_hashes as (
    select hash({{ key }}) as key_hash from {{ model }} group by 1 having count(*) > 1
)

select {{ key }}, count(*) as rows_with_key
from {{ model }}
where hash({{ key }}) in (select key_hash from repeated_hashes)
group by {{ key }}
having count(*) > 1
{% endtest %}
