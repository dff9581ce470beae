-- Deflection of each published FAQ article: one row per article x 7-day period before and after
-- its publication (week_offset -N..-1 before, 0..N-1 after, N = var('learning_loop_weeks')),
-- counting the feedback items on the article's topic. Only complete periods with data are kept:
-- a period must end before var('as_of') (default now) and start after the first feedback item,
-- so a young article or a young database does not show empty weeks as deflection.
-- An item is on the article's topic when its topic key is the article's topic key, or it is in
-- the cluster the article was published for (ops.faq_decisions), or it is a ticket tagged with
-- the article's topic key. Every item counts (no text is shown), consented or not; topic keys
-- and clusters exist for consented items only, tags for every ticket.

with

articles as (

    select * from {{ ref('stg_zendesk__faq_articles') }}
    where published_at is not null
        and published_at <= {{ as_of() }}

),

decisions as (

    select * from {{ ref('stg_ops__faq_decisions') }}

),

feedback as (

    select * from {{ ref('fct_feedback') }}

),

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

article_clusters as (

    select distinct on (article_id)
        article_id,
        cluster_id
    from decisions
    where decision = 'published' and article_id is not null
    order by article_id, decided_at desc, faq_decision_id desc

),

ticket_tags as (

    select
        tickets.ticket_id,
        tag.value as tag
    from tickets
    cross join lateral jsonb_array_elements_text(
        case when jsonb_typeof(tickets.tags) = 'array' then tickets.tags else '[]'::jsonb end
    ) as tag (value)

),

matches as (

    select articles.article_id, feedback.feedback_key, feedback.created_at
    from articles
    inner join feedback on feedback.topic_key = articles.topic_key

    union

    select article_clusters.article_id, feedback.feedback_key, feedback.created_at
    from article_clusters
    inner join feedback on feedback.cluster_id = article_clusters.cluster_id

    union

    select articles.article_id, feedback.feedback_key, feedback.created_at
    from articles
    inner join ticket_tags on ticket_tags.tag = articles.topic_key
    inner join feedback
        on feedback.item_type = 'ticket'
        and feedback.item_source = 'zendesk'
        and feedback.item_source_id = ticket_tags.ticket_id

),

periods as (

    select
        articles.article_id,
        offsets.week_offset,
        articles.published_at + offsets.week_offset * interval '7 days' as period_start,
        articles.published_at + (offsets.week_offset + 1) * interval '7 days' as period_end
    from articles
    cross join generate_series(
        -{{ var('learning_loop_weeks', 8) }}, {{ var('learning_loop_weeks', 8) }} - 1
    ) as offsets (week_offset)

),

complete_periods as (

    select *
    from periods
    where period_end <= {{ as_of() }}
        and period_start >= (select min(created_at) from feedback)

),

weekly as (

    select
        complete_periods.article_id,
        complete_periods.week_offset,
        complete_periods.period_start,
        complete_periods.period_end,
        count(matches.feedback_key) as items
    from complete_periods
    left join matches
        on matches.article_id = complete_periods.article_id
        and matches.created_at >= complete_periods.period_start
        and matches.created_at < complete_periods.period_end
    group by 1, 2, 3, 4

),

summary as (

    select
        article_id,
        avg(items) filter (where week_offset < 0) as avg_weekly_before,
        avg(items) filter (where week_offset >= 0) as avg_weekly_after
    from weekly
    group by 1

),

final as (

    select
        -- grain
        weekly.article_id,
        weekly.week_offset,

        -- article
        articles.title as article_title,
        articles.topic_key,
        article_clusters.cluster_id,
        articles.published_at,

        -- period
        case when weekly.week_offset < 0 then 'before' else 'after' end as period,
        weekly.period_start,
        weekly.period_end,

        -- numbers
        weekly.items,
        round(summary.avg_weekly_before, 2) as avg_weekly_before,
        round(summary.avg_weekly_after, 2) as avg_weekly_after,
        round(
            (summary.avg_weekly_after - summary.avg_weekly_before)
            / nullif(summary.avg_weekly_before, 0), 4
        ) as weekly_change_share

    from weekly
    inner join articles on articles.article_id = weekly.article_id
    left join article_clusters on article_clusters.article_id = weekly.article_id
    left join summary on summary.article_id = weekly.article_id

)

select * from final
