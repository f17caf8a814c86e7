{#
  One mapped view, with rows delivered more than once kept once: rows sharing a dedup key (the mapping's
  `dedup:` fields, or the entity's natural key) are the same row delivered again, and the later load
  wins (a corrected re-delivery replaces the earlier one).
#}
{% macro deduplicated(entity) -%}
select *
from {{ source('mapped', entity) }}
qualify row_number() over (
    partition by dedup_key order by loaded_at desc, load_batch_id desc, source_row desc
) = 1
{%- endmacro %}
