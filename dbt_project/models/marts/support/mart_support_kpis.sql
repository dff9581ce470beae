-- One row per ISO week (Monday start, var('reporting_timezone')) from the first to the last week
-- with any support event, weeks without events included. Each number is counted in the week its
-- event happened: tickets and their first reply time by the week the ticket was created,
-- resolution by the week of the last solve, CSAT by the week of the (latest) answer, churn by
-- the week the account churned.

with

tickets as (

    select * from {{ ref('fct_ticket_metrics') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

created as (

    select
        {{ iso_week_start('created_at') }} as week_start,
        count(*) as tickets_created,
        count(first_reply_time_calendar_minutes) as tickets_replied,
        percentile_cont(0.5) within group (order by first_reply_time_calendar_minutes)
            as median_first_reply_minutes,
        count(sentiment_label) as tickets_scored,
        count(*) filter (where {{ is_negative_sentiment() }})
            as tickets_negative
    from tickets
    group by 1

),

solved as (

    select
        {{ iso_week_start('last_solved_at') }} as week_start,
        count(*) as tickets_solved,
        percentile_cont(0.5) within group (order by full_resolution_calendar_minutes)
            as median_full_resolution_minutes,
        count(*) filter (where is_one_touch_resolution) as tickets_one_touch,
        sum(reopens) as reopens
    from tickets
    where full_resolution_calendar_minutes is not null
    group by 1

),

rated as (

    select
        {{ iso_week_start('csat_rated_at') }} as week_start,
        count(*) as csat_answers,
        count(*) filter (where is_csat_good) as csat_good
    from tickets
    where csat_score is not null
    group by 1

),

churned as (

    select
        {{ iso_week_start('churned_at') }} as week_start,
        count(*) as churned_accounts,
        sum(arr) as churned_arr
    from accounts
    where churned_at is not null
    group by 1

),

event_weeks as (

    select week_start from created
    union
    select week_start from solved
    union
    select week_start from rated
    union
    select week_start from churned

),

weeks as (

    select cast(week as date) as week_start
    from generate_series(
        cast((select min(week_start) from event_weeks) as timestamp),
        cast((select max(week_start) from event_weeks) as timestamp),
        interval '1 week'
    ) as spine (week)

),

final as (

    select
        -- grain
        weeks.week_start,
        to_char(weeks.week_start, 'IYYY-"W"IW') as iso_week,

        -- volume
        coalesce(created.tickets_created, 0) as tickets_created,
        coalesce(solved.tickets_solved, 0) as tickets_solved,

        -- speed
        round(cast(created.median_first_reply_minutes as numeric), 2) as median_first_reply_minutes,
        coalesce(created.tickets_replied, 0) as tickets_replied,
        round(cast(solved.median_full_resolution_minutes as numeric), 2)
            as median_full_resolution_minutes,
        round(cast(solved.tickets_one_touch as numeric) / nullif(solved.tickets_solved, 0), 4)
            as one_touch_share,
        coalesce(solved.reopens, 0) as reopens_of_solved,

        -- satisfaction
        coalesce(rated.csat_answers, 0) as csat_answers,
        coalesce(rated.csat_good, 0) as csat_good,
        round(cast(rated.csat_good as numeric) / nullif(rated.csat_answers, 0), 4) as csat_score,

        -- sentiment
        coalesce(created.tickets_scored, 0) as tickets_scored,
        coalesce(created.tickets_negative, 0) as tickets_negative,
        round(cast(created.tickets_negative as numeric) / nullif(created.tickets_scored, 0), 4)
            as share_negative,

        -- accounts
        coalesce(churned.churned_accounts, 0) as churned_accounts,
        coalesce(churned.churned_arr, 0) as churned_arr

    from weeks
    left join created on created.week_start = weeks.week_start
    left join solved on solved.week_start = weeks.week_start
    left join rated on rated.week_start = weeks.week_start
    left join churned on churned.week_start = weeks.week_start

)

select * from final
