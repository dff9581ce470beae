with

source as (

    select * from {{ source('zendesk', 'tickets') }}

),

renamed as (

    select
        -- ids
        source_id as ticket_id,
        requester_source_id as requester_id,
        assignee_source_id as assignee_id,
        account_source_id as account_id,

        -- text (masked at load)
        subject,
        description,

        -- attributes
        status,
        priority,
        channel,
        product_area,
        language,
        tags,
        is_deleted,

        -- timestamps
        created_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
