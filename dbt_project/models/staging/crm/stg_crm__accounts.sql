with

source as (

    select * from {{ source('crm', 'accounts') }}

),

renamed as (

    select
        -- ids
        source_id as account_id,

        -- attributes
        name as account_name,
        tier,
        churned_at is not null as is_churned,

        -- numbers
        arr,

        -- timestamps
        churned_at,
        created_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
