{#
  Wide process parameters → long rows (cycle_id, parameter_name, parameter_value, unit), the core's
  shape for parameters that differ from one machine type to the next. Null readings are dropped.
  `parameters` is a list of (column, unit) pairs.
#}
{% macro unpivot_parameters(relation, key_columns, parameters) -%}
    with wide as (
        select
            {{ key_columns | join(', ') }},
            {%- for name, unit in parameters %}
            {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ relation }}
    ),

    long as (
        unpivot wide
        on {% for name, unit in parameters %}{{ name }}{{ ", " if not loop.last }}{% endfor %}
        into name parameter_name value parameter_value
    ),

    units as (
        select * from (values
            {%- for name, unit in parameters %}
            ('{{ name }}', '{{ unit }}'){{ "," if not loop.last }}
            {%- endfor %}
        ) as units (parameter_name, unit)
    )

    select long.*, units.unit
    from long
    inner join units using (parameter_name)
{%- endmacro %}
