{#- Custom schemas become analytics_<name> (analytics_staging, analytics_marts): one prefix
    the bi_reader role can be granted on, and no surprise concatenation per developer. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
