with

source as (

    select * from {{ source('ops', 'health_pings') }}

),

renamed as (

    select
        -- ids
        id as health_ping_id,

        -- attributes
        check_name,
        ok as is_ok,

        -- numbers
        latency_ms,

        -- timestamps
        checked_at

    from source

)

select * from renamed
