with

source as (

    select * from {{ source('contract', 'contact_consent') }}

),

renamed as (

    select
        -- ids
        contact_id,
        canonical_contact_id,

        -- consent
        consent_contact as has_contact_consent,
        consent_improvement as has_improvement_consent,

        -- timestamps
        changed_at as contact_changed_at

    from source

)

select * from renamed
