with

source as (

    select * from {{ source('governance', 'consent') }}

),

renamed as (

    select
        -- ids
        contact_source_id as contact_id,

        -- attributes
        purpose,
        granted as is_granted,
        recorded_by,

        -- timestamps
        recorded_at

    from source

)

select * from renamed
