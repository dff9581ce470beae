with

source as (

    select * from {{ source('zendesk', 'satisfaction_ratings') }}

),

renamed as (

    select
        -- ids
        source_id as satisfaction_rating_id,
        ticket_source_id as ticket_id,
        requester_source_id as requester_id,

        -- text (masked at load)
        comment,
        reason,

        -- attributes
        score,
        score = 'good' as is_good,

        -- timestamps
        created_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
