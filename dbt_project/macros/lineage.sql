{# The lineage columns every raw row carries, renamed for staging. #}
{% macro lineage_columns() -%}
        _client_id as client_id,
        _source_file as source_file,
        cast(_source_row as integer) as source_row,
        _load_batch_id as load_batch_id,
        _loaded_at as loaded_at
{%- endmacro %}
