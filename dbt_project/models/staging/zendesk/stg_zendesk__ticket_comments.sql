with

source as (

    select * from {{ source('zendesk', 'ticket_comments') }}

),

renamed as (

    select
        -- ids
        source_id as comment_id,
        ticket_source_id as ticket_id,
        author_source_id as author_id,

        -- text (masked at load)
        body,

        -- attributes
        author_role,
        is_public,

        -- timestamps
        created_at,
        loaded_at

    from source

)

select * from renamed
