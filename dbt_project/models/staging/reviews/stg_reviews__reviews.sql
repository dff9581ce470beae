with

source as (

    select * from {{ source('reviews', 'reviews') }}

),

renamed as (

    select
        -- ids
        source || ':' || source_id as review_key,
        source as platform,
        source_id as review_id,
        contact_source_id as contact_id,

        -- text (masked at load)
        title,
        body,

        -- attributes
        product,
        language,
        territory,

        -- numbers
        rating,

        -- timestamps
        created_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
