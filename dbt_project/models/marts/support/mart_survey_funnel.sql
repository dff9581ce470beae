-- One row per ISO week of sending (Monday start, var('reporting_timezone')), template, rule and
-- segment with at least one survey sent: sends, opens, answers and the two rates. A link's open
-- and answer count in the week it was sent (a cohort), so a week's rates can still grow while
-- its links are valid. Metric definitions: the doc block mart_survey_funnel.

with

links as (

    select * from {{ ref('stg_ops__survey_links') }}

),

actions as (

    select * from {{ ref('stg_ops__actions') }}

),

sent as (

    -- A send is a survey link whose auto-reply was delivered: shadow, skipped, failed and
    -- pending replies reached nobody.
    select
        links.template,
        links.rule,
        links.segment,
        coalesce(actions.sent_at, actions.updated_at) as sent_at,
        links.is_opened,
        links.is_answered
    from links
    inner join actions on actions.action_id = links.action_id
    where actions.is_sent

),

grouped as (

    select
        {{ iso_week_start('sent_at') }} as week_start,
        template,
        rule,
        segment,
        count(*) as survey_sends,
        count(*) filter (where is_opened) as survey_opens,
        count(*) filter (where is_answered) as survey_answers
    from sent
    group by 1, 2, 3, 4

),

final as (

    select
        -- grain
        week_start,
        to_char(week_start, 'IYYY-"W"IW') as iso_week,
        template,
        rule,
        segment,

        -- funnel
        survey_sends,
        survey_opens,
        survey_answers,

        -- rates (over sends)
        round(cast(survey_opens as numeric) / survey_sends, 4) as open_rate,
        round(cast(survey_answers as numeric) / survey_sends, 4) as response_rate

    from grouped

)

select * from final
