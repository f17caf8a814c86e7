{#
  Incremental builds. forgeline/standardize.py (`plan_build`, the one owner of the rule) runs dbt without
  --full-refresh only when the change since the last complete build is provably an append (the conditions
  are listed there, not repeated here). It passes those batches in the environment variable FORGELINE_NEW_BATCHES (comma-separated; not a
  var: changed vars make dbt parse the whole project again). Anything else is a full refresh.
#}

{# The new batches' rows of one mapped view, each key once (the later load wins, as in `deduplicated`).
   No key of them is in an earlier batch, so these are exactly the rows a full build would add. #}
{% macro new_batch_rows(entity) -%}
-- the new batches' latest rows of {{ source('mapped', entity) }}
select * from mapped."{{ entity }}__latest"([{{ new_batches_list() }}])
{%- endmacro %}

{% macro new_batches_list() -%}
    {%- set batches = env_var('FORGELINE_NEW_BATCHES', '').split(',') | reject('equalto', '') | list -%}
    {%- if batches | length == 0 -%}
        null
    {%- else -%}
        {%- for batch in batches -%}
            '{{ batch | string | replace("'", "''") }}'{{ "," if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
