-- Operational health per day (var('reporting_timezone')): one row per day x component, where a
-- component is a flow (ops.flow_runs, by end of run), a health check (ops.health_pings) or an
-- API source (ops.api_usage). Rows exist for days with at least one event of the component.

with

flow_runs as (

    select * from {{ ref('stg_ops__flow_runs') }}

),

health_pings as (

    select * from {{ ref('stg_ops__health_pings') }}

),

api_calls as (

    select * from {{ ref('stg_ops__api_usage') }}

),

flows as (

    {{ component_health(
        'flow_runs', 'flow', 'flow_name', at='ended_at', failed='is_failure',
        mean_duration_ms='avg(duration_s) * 1000'
    ) }}

),

checks as (

    {{ component_health(
        'health_pings', 'health_check', 'check_name', at='checked_at', failed='not is_ok',
        mean_duration_ms='avg(latency_ms)'
    ) }}

),

apis as (

    {{ component_health(
        'api_calls', 'api', 'api_source', at='called_at', failed='is_error',
        mean_duration_ms='avg(duration_ms)', tokens='sum(tokens)', cost_usd='sum(cost_usd)'
    ) }}

),

unioned as (

    select * from flows
    union all
    select * from checks
    union all
    select * from apis

),

final as (

    select
        -- grain
        health_date,
        component_type,
        component,

        -- numbers
        events,
        failures,
        round(cast(failures as numeric) / nullif(events, 0), 4) as failure_share,
        round(cast(mean_duration_ms as numeric), 1) as mean_duration_ms,
        tokens,
        cost_usd

    from unioned

)

select * from final
