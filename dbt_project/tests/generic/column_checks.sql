{#- dbt's column tests (not_null, unique, accepted_values, relationships) and unique
    combinations of columns: all of one model's checks in one test node. Every node costs dbt
    about 20 ms whatever its SQL, and on a staging view each test was one more read of its raw
    tables (docs/decisions.md). Same rules as dbt's own tests: a null passes every check but
    not_null. Fails with one row per failing check and value: the column, the check, the value
    (null for not_null) and how many rows have it (`dbt test --store-failures` keeps them).

    not_null: [column, ...]
    unique: [column, ...]
    accepted_values: {column: [value, ...]}      numbers are compared unquoted (quote: false)
    relationships: {column: {to: ref('model'), field: column}}
    unique_combinations: [[column, column, ...], ...] -#}
{% test column_checks(
    model,
    not_null=[],
    unique=[],
    accepted_values={},
    relationships={},
    unique_combinations=[]
) %}

{%- set read = [] -%}
{%- for columns in [not_null, unique, accepted_values, relationships] + unique_combinations -%}
    {%- for column in columns if column not in read -%}{%- do read.append(column) -%}{%- endfor -%}
{%- endfor %}

with checked as (

    select {{ read | join(', ') }}
    from {{ model }}

)

select failures.*
from (

    {%- if not_null %}
    select nulls.column_name, nulls.check_name, null::text, nulls.failing_rows
    from (
        select
            {%- for column in not_null %}
            count(*) filter (where {{ column }} is null) as {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        from checked
    ) as counts
    cross join lateral (
        values
            {%- for column in not_null %}
            ('{{ column }}', 'not_null', counts.{{ column }}){{ "," if not loop.last }}
            {%- endfor %}
    ) as nulls (column_name, check_name, failing_rows)
    where nulls.failing_rows > 0
    union all
    {%- endif %}

    {%- for column in unique %}
    select '{{ column }}', 'unique', {{ column }}::text, count(*)
    from checked
    where {{ column }} is not null
    group by {{ column }}
    having count(*) > 1
    union all
    {%- endfor %}

    {%- for column, values in accepted_values.items() %}
    select '{{ column }}', 'accepted_values', {{ column }}::text, count(*)
    from checked
    where {{ column }} not in (
        {%- for value in values -%}
        {{ value if value is number else "'" ~ (value | replace("'", "''")) ~ "'" }}
        {{- ", " if not loop.last }}
        {%- endfor -%}
    )
    group by {{ column }}
    union all
    {%- endfor %}

    {%- for column, parent in relationships.items() %}
    select '{{ column }}', 'relationships', child.{{ column }}::text, count(*)
    from checked as child
    where child.{{ column }} is not null
        and not exists (
            select from {{ parent.to }} as parent where parent.{{ parent.field }} = child.{{ column }}
        )
    group by child.{{ column }}
    union all
    {%- endfor %}

    {%- for columns in unique_combinations %}
    select '{{ columns | join(", ") }}', 'unique_combination', row({{ columns | join(", ") }})::text, count(*)
    from checked
    group by {{ columns | join(", ") }}
    having count(*) > 1
    union all
    {%- endfor %}

    -- ends the chain of union all above
    select null, null, null, null where false

) as failures (column_name, check_name, value, failing_rows)

{% endtest %}
