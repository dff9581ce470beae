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

    select
        {{ local_day('ended_at') }} as health_date,
        'flow' as component_type,
        flow_name as component,
        count(*) as events,
        count(*) filter (where is_failure) as failures,
        avg(duration_s) * 1000 as mean_duration_ms,
        cast(null as bigint) as tokens,
        cast(null as numeric) as cost_usd
    from flow_runs
    group by 1, 2, 3

),

checks as (

    select
        {{ local_day('checked_at') }} as health_date,
        'health_check' as component_type,
        check_name as component,
        count(*) as events,
        count(*) filter (where not is_ok) as failures,
        avg(latency_ms) as mean_duration_ms,
        cast(null as bigint) as tokens,
        cast(null as numeric) as cost_usd
    from health_pings
    group by 1, 2, 3

),

apis as (

    select
        {{ local_day('called_at') }} as health_date,
        'api' as component_type,
        api_source as component,
        count(*) as events,
        count(*) filter (where is_error) as failures,
        avg(duration_ms) as mean_duration_ms,
        sum(tokens) as tokens,
        sum(cost_usd) as cost_usd
    from api_calls
    group by 1, 2, 3

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
