{# Schemas are exactly staging / intermediate / core / marts / reference, as docs/architecture.md says. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
