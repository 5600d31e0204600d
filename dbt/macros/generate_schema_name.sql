{#- Custom schemas are used as-is (staging, intermediate, marts), not prefixed with the target schema:
    the environments are separate databases, so the prefix would only add noise. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
