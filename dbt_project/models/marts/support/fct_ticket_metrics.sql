-- One row per Zendesk ticket (deleted tickets excluded) with its reply, resolution, reopen and
-- satisfaction metrics in calendar minutes. Every definition is in _support__docs.md.
--
-- Incremental (delete+insert on ticket_id): a build recomputes, from all their rows, the
-- tickets with a row written at or after the newest `watermark_at` (macro
-- incremental_watermark): the ticket, a comment, a status change, a rating (loaded_at is
-- now() of every write) or its fct_feedback row (processed_at). No column depends on the
-- time of the build, so the other rows are what a full refresh would give. Tickets deleted
-- in Zendesk are removed by the post-hook.
-- depends_on: {{ ref('stg_zendesk__tickets') }}

{{
    config(
        materialized='incremental',
        unique_key='ticket_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        indexes=[{'columns': ['ticket_id'], 'unique': True}],
        post_hook=[
            "delete from {{ this }}
             where ticket_id in (
                select ticket_id from {{ ref('stg_zendesk__tickets') }} where is_deleted
             )",
        ],
    )
}}

{%- set incremental = is_watermarked_incremental() %}
{#- the last watermark, read once: one literal in every filter below -#}
{%- set since = last_watermark(this) if incremental else none %}
{#- A ticket's rows in the other Zendesk streams, by CTE name: one list, so every stream read
    below is also one whose new rows mark its tickets changed. -#}
{%- set ticket_streams = {
    'comments': 'stg_zendesk__ticket_comments',
    'status_changes': 'stg_zendesk__ticket_status_changes',
    'ratings': 'stg_zendesk__satisfaction_ratings',
} %}

with

{% if incremental %}
changed as (

    select ticket_id from {{ ref('stg_zendesk__tickets') }}
    where loaded_at >= {{ since }}
    union
    {%- for stream in ticket_streams.values() %}
    select ticket_id from {{ ref(stream) }}
    where loaded_at >= {{ since }}
    union
    {%- endfor %}
    select item_source_id from {{ ref('fct_feedback') }}
    where item_type = 'ticket' and item_source = 'zendesk'
        and processed_at >= {{ since }}

),
{% endif %}

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}
    where not is_deleted
    {% if incremental %}and ticket_id in (select ticket_id from changed){% endif %}

),

{% for name, stream in ticket_streams.items() %}
{{ name }} as (

    select * from {{ ref(stream) }}
    {% if incremental %}where ticket_id in (select ticket_id from changed){% endif %}

),
{% endfor %}

feedback as (

    select * from {{ ref('fct_feedback') }}
    where item_type = 'ticket'

),

-- The opening comment is the request itself, even when an agent logged it for the customer
-- (Zendesk: "agent-created tickets"), so it is never a reply.
comments_ordered as (

    select
        *,
        row_number() over (partition by ticket_id order by created_at, comment_id) as comment_number
    from comments

),

replies as (

    select
        ticket_id,
        min(created_at) as first_reply_at,
        count(*) as replies
    from comments_ordered
    where author_role = 'agent' and is_public and comment_number > 1
    group by ticket_id

),

-- Previous status from the event itself, or from the ticket's previous event when the source
-- did not record it.
status_history as (

    select
        ticket_id,
        status,
        changed_at,
        coalesce(
            previous_status,
            lag(status) over (partition by ticket_id order by changed_at, status_change_id)
        ) as previous_status
    from status_changes

),

status_metrics as (

    select
        ticket_id,
        coalesce(
            min(changed_at) filter (where status = 'solved'),
            min(changed_at) filter (where status = 'closed')
        ) as first_solved_at,
        coalesce(
            max(changed_at) filter (where status = 'solved'),
            max(changed_at) filter (where status = 'closed')
        ) as last_solved_at,
        count(*) filter (where previous_status = 'solved' and status = 'open') as reopens
    from status_history
    group by ticket_id

),

-- The customer can change an answer; the latest answer counts. "offered" (asked, not
-- answered) never replaces an answer.
latest_rating as (

    select distinct on (ticket_id)
        ticket_id,
        score as csat_score,
        is_good as is_csat_good,
        coalesce(updated_at, created_at) as csat_rated_at
    from ratings
    where score in ('good', 'bad')
    order by ticket_id, coalesce(updated_at, created_at) desc, created_at desc,
        satisfaction_rating_id desc

),

offered as (

    select distinct ticket_id
    from ratings
    where score in ('good', 'bad', 'offered')

),

final as (

    select
        -- ids
        tickets.ticket_id,
        feedback.contact_id,
        tickets.account_id,
        tickets.assignee_id,

        -- dimensions
        tickets.status,
        tickets.priority,
        tickets.channel,
        tickets.product_area,
        tickets.language,
        feedback.sentiment_label,

        -- reply metrics
        replies.first_reply_at,
        {{ minutes_between('tickets.created_at', 'replies.first_reply_at') }}
            as first_reply_time_calendar_minutes,
        coalesce(replies.replies, 0) as replies,

        -- resolution metrics
        status_metrics.first_solved_at,
        status_metrics.last_solved_at,
        {{ minutes_between('tickets.created_at', 'status_metrics.first_solved_at') }}
            as first_resolution_calendar_minutes,
        case
            when tickets.status in ('solved', 'closed')
                then {{ minutes_between('tickets.created_at', 'status_metrics.last_solved_at') }}
        end as full_resolution_calendar_minutes,
        coalesce(status_metrics.reopens, 0) as reopens,
        tickets.status in ('solved', 'closed') and coalesce(replies.replies, 0) = 1
            as is_one_touch_resolution,

        -- satisfaction
        offered.ticket_id is not null as is_csat_offered,
        latest_rating.csat_score,
        latest_rating.is_csat_good,
        latest_rating.csat_rated_at,

        -- timestamps
        tickets.created_at,
        tickets.updated_at,
        {{ incremental_watermark() }} as watermark_at

    from tickets
    left join feedback on feedback.item_source_id = tickets.ticket_id
    left join replies on replies.ticket_id = tickets.ticket_id
    left join status_metrics on status_metrics.ticket_id = tickets.ticket_id
    left join latest_rating on latest_rating.ticket_id = tickets.ticket_id
    left join offered on offered.ticket_id = tickets.ticket_id

)

select * from final
