{#- mart_ops_health's measures for one kind of component: events and failures per day (in
    var('reporting_timezone')) and component, with the mean duration, tokens and cost as the
    aggregates given (tokens and cost are null where the component does not report them). -#}
{% macro component_health(
    relation, component_type, component, at, failed, mean_duration_ms,
    tokens='cast(null as bigint)', cost_usd='cast(null as numeric)'
) -%}
    select
        {{ local_day(at) }} as health_date,
        '{{ component_type }}' as component_type,
        {{ component }} as component,
        count(*) as events,
        count(*) filter (where {{ failed }}) as failures,
        {{ mean_duration_ms }} as mean_duration_ms,
        {{ tokens }} as tokens,
        {{ cost_usd }} as cost_usd
    from {{ relation }}
    group by 1, 2, 3
{%- endmacro %}
