-- The link's random token stays in ops: the marts need what was sent and what came back.

with

source as (

    select * from {{ source('ops', 'survey_links') }}

),

renamed as (

    select
        -- ids
        id as survey_link_id,
        action_id,
        {{ feedback_key() }} as feedback_key,
        ticket_source_id as ticket_id,
        contact_source_id as contact_id,
        account_source_id as account_id,

        -- attributes
        rule,
        template,
        segment,
        rating_scale,
        language,
        -- An answer can only come through an opened form: it proves an open.
        (opened_at is not null or answered_at is not null) as is_opened,
        answered_at is not null as is_answered,

        -- numbers
        answers,

        -- timestamps
        created_at,
        expires_at,
        coalesce(opened_at, answered_at) as opened_at,
        answered_at,
        last_answered_at

    from source

)

select * from renamed
