{#- not_null on several columns in one scan of the model: one test node per model instead of
    one per column (every node costs dbt time, and on a staging view a scan of its raw table;
    docs/decisions.md). Fails with one row per column holding nulls: the column and how many. -#}
{% test not_null_columns(model, columns) %}

with counts as (

    select
        {%- for column in columns %}
        count(*) filter (where {{ column }} is null) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

select nulls.column_name, nulls.null_rows
from counts
cross join lateral (
    values
        {%- for column in columns %}
        ('{{ column }}', counts.{{ column }}){{ "," if not loop.last }}
        {%- endfor %}
) as nulls (column_name, null_rows)
where nulls.null_rows > 0

{% endtest %}
