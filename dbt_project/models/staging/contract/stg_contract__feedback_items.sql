with

source as (

    select * from {{ source('contract', 'feedback_items') }}

),

renamed as (

    select
        -- ids
        item_type || ':' || item_source || ':' || item_source_id as feedback_key,
        item_type,
        item_source,
        item_source_id,
        contact_id,
        account_id,

        -- text (masked at load)
        text as feedback_text,

        -- attributes
        channel,
        department,
        product_area,
        language,

        -- numbers
        rating,

        -- timestamps
        created_at,
        loaded_at

    from source

)

select * from renamed
