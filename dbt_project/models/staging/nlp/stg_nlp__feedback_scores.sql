-- nlp.feedback_scores keeps one row per item and model version. One row per item here: the
-- newest score, which is the score of the model version in use (a new version rescores every
-- item; a changed text is rescored by the version in use).

with

source as (

    select * from {{ source('nlp', 'feedback_scores') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by item_type, item_source, item_source_id
            order by scored_at desc, id desc
        ) as score_rank
    from source

),

renamed as (

    select
        -- ids
        {{ feedback_key_columns() }},
        model_version,

        -- attributes
        label as sentiment_label,
        frustrated as is_frustrated,
        language,

        -- numbers
        sentiment as sentiment_score,

        -- timestamps
        scored_at

    from ranked
    where score_rank = 1

)

select * from renamed
