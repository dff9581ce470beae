-- The reviewer's free-text comment stays in ops. A row of the weekly review sample is queued
-- (no reviewer, verdict or reviewed_at) until a person rates it (feedbackloop review).

with

source as (

    select * from {{ source('ops', 'human_reviews') }}

),

renamed as (

    select
        -- ids
        id as human_review_id,
        action_id,
        {{ feedback_key() }} as feedback_key,
        batch as review_batch,

        -- attributes
        reviewer,
        verdict,
        sentiment_label as corrected_sentiment_label,
        reviewed_at is not null as is_reviewed,

        -- numbers
        rating,

        -- timestamps
        queued_at,
        reviewed_at

    from source

)

select * from renamed
