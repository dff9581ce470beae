with

source as (

    select * from {{ source('contract', 'feedback_items') }}

),

renamed as (

    select
        -- ids
        {{ feedback_key_columns() }},
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
