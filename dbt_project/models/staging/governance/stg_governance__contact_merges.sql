with

source as (

    select * from {{ source('governance', 'contact_merges') }}

),

renamed as (

    select
        -- ids
        contact_source_id as contact_id,
        merged_into_source_id as merged_into_contact_id,

        -- attributes
        rule as merge_rule,
        merged_by,

        -- timestamps
        merged_at

    from source

)

select * from renamed
