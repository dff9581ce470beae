{#- Unique over several columns; dbt_utils.unique_combination_of_columns without the package
    (the dbt hub is unreachable here). -#}
{% test dbt_utils_free_unique_combination(model, columns) %}

select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
