with

source as (

    select * from {{ source('feedback_form', 'survey_responses') }}

),

renamed as (

    select
        -- ids
        source_id as survey_response_id,
        'survey_response:' || source || ':' || source_id as feedback_key,
        survey_link_id,
        ticket_source_id as ticket_id,
        contact_source_id as contact_id,
        account_source_id as account_id,

        -- text (masked at load)
        text as response_text,

        -- numbers
        rating,
        rating_scale,

        -- attributes
        consent_improvement as has_improvement_consent,
        email_valid is not null as has_email,
        email_valid as is_email_valid,
        language,

        -- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
