{#- Snowflake: one JSON QUERY_TAG per node, so QUERY_HISTORY (and WAREHOUSE_METERING via the query's warehouse)
    attributes credits to a model, a test or a seed of one dbt invocation. dbt-snowflake 1.11's materializations
    (table, view, incremental, seed, test, snapshot) call set_query_tag() first and unset_query_tag(original) last,
    dispatched in the `dbt` namespace, so these root-project snowflake__ versions replace the adapter's (which only
    act on a static `query_tag` config). DuckDB never calls them. Between nodes the session keeps the profile's
    query_tag (`sportscards-dbt`): that is what set_query_tag returns and unset_query_tag restores, without the
    adapter's extra `show parameters` round trip per node. docs/dbt.md, "Snowflake configs". -#}

{% macro sportscards_query_tag() -%}
  {#- The tag's fields: who ran what, and whether the incremental branch ran (its cost differs by orders). -#}
  {%- set materialized = model.config.get('materialized') -%}
  {%- set tag = {
      'app': 'dbt',
      'project': project_name,
      'target': target.name,
      'node': model.unique_id,
      'resource_type': model.resource_type,
      'materialization': materialized,
      'is_incremental': materialized == 'incremental' and is_incremental(),
      'full_refresh': should_full_refresh(),
      'invocation_id': invocation_id,
      'dbt_version': dbt_version,
  } -%}
  {{- return(tojson(tag, sort_keys=true)) -}}
{%- endmacro %}


{% macro sportscards_query_tag_statement(tag) -%}
  {#- ALTER SESSION for a tag (none: back to no tag); the tag is a string literal, quotes escaped. -#}
  {%- if tag -%}
    {{- return("alter session set query_tag = '" ~ tag | replace("\\", "\\\\") | replace("'", "\\'") ~ "'") -}}
  {%- endif -%}
  {{- return("alter session unset query_tag") -}}
{%- endmacro %}


{% macro sportscards_set_session_query_tag(tag) -%}
  {%- do run_query(sportscards_query_tag_statement(tag)) -%}
{%- endmacro %}


{% macro snowflake__set_query_tag() -%}
  {%- do sportscards_set_session_query_tag(sportscards_query_tag()) -%}
  {{- return(target.get('query_tag')) -}}
{%- endmacro %}


{% macro snowflake__unset_query_tag(original_query_tag) -%}
  {%- do sportscards_set_session_query_tag(original_query_tag) -%}
{%- endmacro %}
