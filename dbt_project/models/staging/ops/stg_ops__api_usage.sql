with

source as (

    select * from {{ source('ops', 'api_usage') }}

),

renamed as (

    select
        -- ids
        id as api_call_id,

        -- attributes
        source as api_source,
        endpoint,
        method,
        status as http_status,
        -- no answer (timeout, connection error) or an error status
        status is null or status >= 400 as is_error,

        -- numbers
        duration_ms,
        tokens,
        cost_usd,

        -- timestamps
        called_at

    from source

)

select * from renamed
