-- FAQ candidates: one row per topic cluster with at least var('faq_min_similar') consented
-- items created in the var('faq_window_days') days up to var('as_of') (default now) that no
-- FAQ article covers. A cluster is covered when
--   * a published help-center article has the cluster's topic key (raw.faq_articles.topic_key),
--   * or the cluster's newest decision in ops.faq_decisions is `accepted` (being written) or
--     `published` (the article exists),
--   * or its newest decision is `rejected` and the cluster has not grown to
--     var('faq_rejected_regrowth') (1.5) times its size at the rejection.
-- Examples are masked texts of consented items only: those naming most of the cluster's key
-- phrases, newest first.

with

feedback as (

    select * from {{ ref('fct_feedback') }}
    where cluster_id is not null
        and has_improvement_consent

),

clusters as (

    select * from {{ ref('stg_nlp__clusters') }}

),

decisions as (

    select * from {{ ref('stg_ops__faq_decisions') }}

),

articles as (

    select * from {{ ref('stg_zendesk__faq_articles') }}

),

window_items as (

    select
        *,
        created_at > {{ as_of() }} - interval '{{ var("faq_window_days", 60) }} days' / 2
            as is_recent_half,
        -- once per item: the key phrases are looked for in it (example_texts)
        lower(feedback_text) as feedback_text_lower
    from feedback
    where created_at > {{ as_of() }} - interval '{{ var("faq_window_days", 60) }} days'
        and created_at <= {{ as_of() }}

),

sized as (

    select
        cluster_id,
        -- every member carries its cluster's topic key
        min(topic_key) as topic_key,
        count(*) as items_in_window,
        count(*) filter (where is_recent_half) as items_recent_half,
        count(*) filter (where not is_recent_half) as items_previous_half,
        {{ sentiment_label_counts() }},
        avg(sentiment_score) as mean_sentiment_score,
        min(created_at) as first_item_at,
        max(created_at) as last_item_at
    from window_items
    group by cluster_id
    having count(*) >= {{ var('faq_min_similar', 30) }}

),

latest_decision as (

    select distinct on (cluster_id) *
    from decisions
    order by cluster_id, decided_at desc, faq_decision_id desc

),

published_topics as (

    select distinct topic_key
    from articles
    where published_at is not null
        and published_at <= {{ as_of() }}
        and topic_key is not null

),

candidates as (

    select
        sized.*,
        clusters.cluster_label,
        clusters.key_phrases,
        clusters.key_phrase_list,
        clusters.cluster_size,
        latest_decision.decision as previous_decision,
        latest_decision.cluster_size_at_decision as previous_decision_size
    from sized
    left join clusters on clusters.cluster_id = sized.cluster_id
    left join latest_decision on latest_decision.cluster_id = sized.cluster_id
    where not exists (
            select 1 from published_topics where published_topics.topic_key = sized.topic_key
        )
        and (
            latest_decision.decision is null
            or (
                latest_decision.decision = 'rejected'
                and coalesce(clusters.cluster_size, sized.items_in_window)
                    >= {{ var('faq_rejected_regrowth', 1.5) }}
                    * latest_decision.cluster_size_at_decision
            )
        )

),

-- Each candidate's key phrases, lower-cased once (materialized: not once per item).
candidate_phrases as materialized (

    select
        cluster_id,
        array(
            select lower(coalesce(phrase ->> 'phrase', phrase #>> '{}'))
            from jsonb_array_elements(coalesce(key_phrases, '[]'::jsonb)) as phrases (phrase)
        ) as phrases
    from candidates

),

example_texts as (

    select distinct on (window_items.cluster_id, window_items.feedback_text)
        window_items.cluster_id,
        window_items.feedback_text,
        window_items.created_at,
        window_items.feedback_key,
        (
            select count(*)
            from unnest(candidate_phrases.phrases) as phrases (phrase)
            where position(phrases.phrase in window_items.feedback_text_lower) > 0
        ) as phrase_hits
    from window_items
    inner join candidate_phrases on candidate_phrases.cluster_id = window_items.cluster_id
    where btrim(coalesce(window_items.feedback_text, '')) <> ''
    order by window_items.cluster_id, window_items.feedback_text, window_items.created_at desc

),

-- The first three examples of each cluster side by side: one row per cluster, joined once.
examples as (

    select
        cluster_id,
        max(example_text) filter (where example_number = 1) as example_1,
        max(example_text) filter (where example_number = 2) as example_2,
        max(example_text) filter (where example_number = 3) as example_3
    from (
        select
            cluster_id,
            left(feedback_text, 500) as example_text,
            row_number() over (
                partition by cluster_id
                order by phrase_hits desc, created_at desc, feedback_key
            ) as example_number
        from example_texts
    ) as ranked
    where example_number <= 3
    group by cluster_id

),

final as (

    select
        -- ids
        candidates.cluster_id,

        -- topic
        candidates.topic_key,
        candidates.cluster_label,
        candidates.key_phrase_list as key_phrases,

        -- size and trend
        candidates.cluster_size,
        candidates.items_in_window,
        candidates.items_recent_half,
        candidates.items_previous_half,
        case
            when candidates.items_recent_half > candidates.items_previous_half then 'rising'
            when candidates.items_recent_half < candidates.items_previous_half then 'falling'
            else 'steady'
        end as trend,
        round(
            cast(candidates.items_recent_half as numeric)
            / nullif(candidates.items_previous_half, 0), 4
        ) as trend_ratio,

        -- sentiment mix
        candidates.scored_items,
        candidates.very_negative_items,
        candidates.negative_items,
        candidates.neutral_items,
        candidates.positive_items,
        candidates.very_positive_items,
        round(
            cast(candidates.very_negative_items + candidates.negative_items as numeric)
            / nullif(candidates.scored_items, 0), 4
        ) as share_negative,
        round(cast(candidates.mean_sentiment_score as numeric), 4) as mean_sentiment_score,

        -- representative examples (masked, consented)
        examples.example_1,
        examples.example_2,
        examples.example_3,

        -- history
        candidates.previous_decision,
        candidates.previous_decision_size,

        -- window
        candidates.first_item_at,
        candidates.last_item_at,
        {{ var('faq_window_days', 60) }} as window_days,
        {{ var('faq_min_similar', 30) }} as min_similar

    from candidates
    left join examples on examples.cluster_id = candidates.cluster_id

)

select * from final
