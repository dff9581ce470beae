with

source as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        -- ids
        source_id as contact_id,
        account_source_id as account_id,
        email_hash,

        -- attributes
        email_domain,
        email_valid as is_email_valid,
        email_invalid_reason,
        language,

        -- timestamps
        created_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
