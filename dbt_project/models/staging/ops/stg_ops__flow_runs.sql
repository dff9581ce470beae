-- The (masked) error message stays in ops; the marts count failures.

with

source as (

    select * from {{ source('ops', 'flow_runs') }}
    -- finished runs only: a run is recorded when it starts (Running, no end yet)
    where ended_at is not null

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
