{# Exports carry the factory's local wall-clock time; core stores instants (timestamptz). #}
{% macro local_to_utc(expression) -%}
    timezone('{{ var("client_timezone") }}', {{ expression }})
{%- endmacro %}

{# The factory's local calendar day of an instant. #}
{% macro local_date(expression) -%}
    cast(timezone('{{ var("client_timezone") }}', {{ expression }}) as date)
{%- endmacro %}
