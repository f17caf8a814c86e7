{#
  The one value of `column` in `relation` when there is exactly one (else null): a row that names no
  machine (or meter, or site) belongs to the client's only one. One owner for that rule.
#}
{% macro the_only(column, relation) -%}
    (select case when count(distinct {{ column }}) = 1 then min({{ column }}) end from {{ relation }})
{%- endmacro %}
