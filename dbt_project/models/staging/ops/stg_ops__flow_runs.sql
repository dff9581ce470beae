-- The (masked) error message stays in ops; the marts count failures.

with

source as (

    select * from {{ source('ops', 'flow_runs') }}

),

renamed as (

    select
        -- ids
        flow_run_id,
        deployment,

        -- attributes
        flow_name,
        state,
        state in ('Failed', 'Crashed') as is_failure,

        -- numbers
        duration_s,

        -- timestamps
        started_at,
        ended_at

    from source

)

select * from renamed
