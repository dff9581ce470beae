-- One row per topic cluster x ISO week (Monday start, var('reporting_timezone')) with at least
-- one item of the cluster. Topics exist for consented items only (clustering reads consented
-- text); outliers, which fit no cluster, are left out.

with

feedback as (

    select * from {{ ref('fct_feedback') }}
    where cluster_id is not null

),

clusters as (

    select * from {{ ref('stg_nlp__clusters') }}

),

weekly as (

    select
        cluster_id,
        {{ iso_week_start('created_at') }} as week_start,
        {{ iso_week_label('created_at') }} as iso_week,
        count(*) as items,
        count(sentiment_label) as scored_items,
        count(*) filter (where {{ is_negative_sentiment() }}) as negative_items,
        avg(sentiment_score) as mean_sentiment_score,
        -- every member carries its cluster's topic key
        min(topic_key) as topic_key
    from feedback
    group by 1, 2, 3

),

final as (

    select
        -- grain
        weekly.cluster_id,
        weekly.week_start,
        weekly.iso_week,

        -- topic
        weekly.topic_key,
        clusters.cluster_label as topic_label,

        -- numbers
        weekly.items,
        weekly.scored_items,
        weekly.negative_items,
        round(cast(weekly.negative_items as numeric) / nullif(weekly.scored_items, 0), 4)
            as share_negative,
        round(cast(weekly.mean_sentiment_score as numeric), 4) as mean_sentiment_score

    from weekly
    left join clusters on clusters.cluster_id = weekly.cluster_id

)

select * from final
