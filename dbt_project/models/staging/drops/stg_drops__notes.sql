with

source as (

    select * from {{ source('drops', 'notes') }}

),

renamed as (

    select
        -- ids
        source || ':' || source_id as note_key,
        source as origin,
        source_id as note_id,
        contact_source_id as contact_id,
        account_source_id as account_id,

        -- text (masked at load)
        text,

        -- attributes
        department,
        kind,

        -- numbers
        rating,

        -- timestamps
        created_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
