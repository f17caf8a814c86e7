{#
  A core table is the union of what the client's adapter provides for that entity. When the adapter does
  not provide it (a steel plant has no shots), the table still exists, typed and empty, so every client's
  warehouse has the same schema. `columns` is a list of (name, type) pairs: the core table's contract.
#}
{% macro union_adapters(entity, columns) -%}
    {%- set providers = [] -%}
    {%- for system, entities in var('adapters').items() -%}
        {%- if system == var('source_system') and entity in entities -%}
            {%- do providers.append(system) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if providers -%}
        {%- for system in providers %}
    select
        {%- for name, type in columns %}
        cast({{ name }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_' ~ system ~ '__' ~ entity) }}
        {{ "union all" if not loop.last }}
        {%- endfor -%}
    {%- else %}
    select
        {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif -%}
{%- endmacro %}
