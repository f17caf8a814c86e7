{# The factory's local calendar day of an instant (the client's zone comes from its mapping). #}
{% macro local_date(expression) -%}
    cast(timezone('{{ var("client_timezone") }}', {{ expression }}) as date)
{%- endmacro %}

{# The factory's local wall-clock time of an instant. #}
{% macro local_time(expression) -%}
    timezone('{{ var("client_timezone") }}', {{ expression }})
{%- endmacro %}
