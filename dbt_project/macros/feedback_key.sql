{#- A feedback item's key, such as 'ticket:zendesk:123': its kind, its source and its id there,
    built the same way in every model of item-keyed rows (ops.feedback_items' identity). -#}
{% macro feedback_key() -%}
    item_type || ':' || item_source || ':' || item_source_id
{%- endmacro %}

{#- The ids of an item-keyed row: `feedback_key` and the three columns it is made of. -#}
{% macro feedback_key_columns() -%}
    {{ feedback_key() }} as feedback_key,
        item_type,
        item_source,
        item_source_id
{%- endmacro %}
