{#
  One mapped view, with rows delivered more than once kept once: rows sharing a dedup key (the mapping's
  `dedup:` fields, or the entity's natural key) are the same row delivered again, and the later load
  wins (a corrected re-delivery replaces the earlier one). The mapping compiler owns that rule and writes
  it beside the view as the table macro mapped."<entity>__latest"(batches) (forgeline/mapping/compile.py).
#}
{% macro deduplicated(entity) -%}
-- the latest rows of {{ source('mapped', entity) }}
select * from mapped."{{ entity }}__latest"(null)
{%- endmacro %}
