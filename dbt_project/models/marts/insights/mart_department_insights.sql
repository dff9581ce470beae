-- The top themes each department raised in the last var('department_insights_days') days:
-- one row per department x theme (topic cluster) among the department's
-- var('department_top_themes') largest. A department raises a theme with at least
-- var('department_theme_min_items') items in it; a theme is validated when two or more
-- departments raise it (the same problem heard by support and by sales is not noise).
-- Departments: tickets and CSAT are support, app reviews product, notes their author's.

with

feedback as (

    select * from {{ ref('fct_feedback') }}
    where cluster_id is not null
        and created_at > {{ as_of() }} - interval '{{ var("department_insights_days", 90) }} days'
        and created_at <= {{ as_of() }}

),

clusters as (

    select * from {{ ref('stg_nlp__clusters') }}

),

by_department as (

    select
        department,
        cluster_id,
        count(*) as items,
        count(sentiment_label) as scored_items,
        count(*) filter (where {{ is_negative_sentiment() }}) as negative_items,
        avg(sentiment_score) as mean_sentiment_score,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,
        min(topic_key) as topic_key
    from feedback
    group by 1, 2
    having count(*) >= {{ var('department_theme_min_items', 3) }}

),

raised as (

    select
        cluster_id,
        count(*) as departments_raising,
        string_agg(department, ',' order by department) as raised_by
    from by_department
    group by 1

),

ranked as (

    select
        *,
        row_number() over (partition by department order by items desc, cluster_id) as theme_rank
    from by_department

),

final as (

    select
        -- grain
        ranked.department,
        ranked.cluster_id,

        -- theme
        ranked.theme_rank,
        ranked.topic_key,
        clusters.cluster_label as theme_label,
        clusters.key_phrase_list as key_phrases,

        -- validation across departments
        raised.departments_raising,
        raised.raised_by,
        raised.departments_raising >= 2 as is_validated,

        -- numbers
        ranked.items,
        ranked.scored_items,
        round(cast(ranked.negative_items as numeric) / nullif(ranked.scored_items, 0), 4)
            as share_negative,
        round(cast(ranked.mean_sentiment_score as numeric), 4) as mean_sentiment_score,

        -- timestamps
        ranked.first_seen_at,
        ranked.last_seen_at

    from ranked
    inner join raised on raised.cluster_id = ranked.cluster_id
    left join clusters on clusters.cluster_id = ranked.cluster_id
    where ranked.theme_rank <= {{ var('department_top_themes', 5) }}

)

select * from final
