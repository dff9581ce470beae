with

source as (

    select * from {{ source('zendesk', 'ticket_status_changes') }}

),

renamed as (

    select
        -- ids
        source_id as status_change_id,
        ticket_source_id as ticket_id,

        -- attributes
        previous_status,
        status,

        -- timestamps
        created_at as changed_at,
        loaded_at

    from source

)

select * from renamed
