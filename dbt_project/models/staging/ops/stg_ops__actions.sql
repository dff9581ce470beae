-- Payloads (message bodies) and explanations stay in ops: the marts need the decision, not
-- the text. The sentiment label the rule saw is kept for the review marts.

with

source as (

    select * from {{ source('ops', 'actions') }}

),

renamed as (

    select
        -- ids
        id as action_id,
        {{ feedback_key_columns() }},

        -- attributes
        rule,
        action_type,
        status,
        status = 'sent' as is_sent,
        model_version,
        explanation -> 'sentiment' ->> 'label' as decided_sentiment_label,

        -- numbers
        attempts,

        -- timestamps
        created_at,
        updated_at,
        sent_at

    from source

)

select * from renamed
