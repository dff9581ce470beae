{#- The sentiment mix of a group of feedback items: the items scored, then one count per label
    of var('sentiment_labels'), in its order, named <label>_items (very_negative_items, ...).
    One definition for the marts that show the mix. -#}
{% macro sentiment_label_counts(column='sentiment_label') -%}
    count({{ column }}) as scored_items,
    {%- for label in var('sentiment_labels') %}
        count(*) filter (where {{ column }} = '{{ label }}') as {{ label }}_items
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- True for the negative labels (very_negative, negative): the items the marts count as
    negative (the semantic model in _core__models.yml spells them out: its expr is not Jinja). -#}
{% macro is_negative_sentiment(column='sentiment_label') -%}
    {{ column }} in ('negative', 'very_negative')
{%- endmacro %}
