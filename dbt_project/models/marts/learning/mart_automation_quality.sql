-- How good the automated decisions are, as people judged them: one row per ISO week of review
-- x action type x routing rule. Only done reviews of an automated action count: queued ones
-- are not judged yet, and reviews of an item's sentiment without an action are training data,
-- not automation quality.

with

reviews as (

    select * from {{ ref('stg_ops__human_reviews') }}
    where action_id is not null
        and is_reviewed

),

actions as (

    select * from {{ ref('stg_ops__actions') }}

),

joined as (

    select
        reviews.human_review_id,
        reviews.verdict,
        reviews.rating,
        reviews.corrected_sentiment_label,
        reviews.reviewed_at,
        actions.action_type,
        actions.rule,
        actions.decided_sentiment_label
    from reviews
    inner join actions on actions.action_id = reviews.action_id

),

final as (

    select
        -- grain
        {{ iso_week_start('reviewed_at') }} as week_start,
        {{ iso_week_label('reviewed_at') }} as iso_week,
        action_type,
        rule,

        -- verdicts
        count(*) as reviews,
        count(*) filter (where verdict = 'correct') as correct_verdicts,
        count(*) filter (where verdict = 'wrong') as wrong_verdicts,
        round(
            cast(count(*) filter (where verdict = 'correct') as numeric)
            / nullif(count(verdict), 0), 4
        ) as share_correct,

        -- ratings (1-5)
        count(rating) as rated_reviews,
        round(cast(avg(rating) as numeric), 2) as mean_rating,
        count(*) filter (where rating >= {{ var('automation_good_rating_min', 4) }})
            as good_ratings,
        round(
            cast(count(*) filter (where rating >= {{ var('automation_good_rating_min', 4) }}) as numeric)
            / nullif(count(rating), 0), 4
        ) as share_good,

        -- sentiment
        count(*) filter (
            where corrected_sentiment_label is not null
                and corrected_sentiment_label is distinct from decided_sentiment_label
        ) as sentiment_corrections

    from joined
    group by 1, 2, 3, 4

)

select * from final
