-- Every feedback item from every channel in one shape. Grain: one row per item
-- (item_type, item_source, item_source_id). Ticket comments are not items of their own: they
-- are the conversation of a ticket and feed the ticket metrics instead. `loaded_at` is when
-- feedbackloop last wrote any row the item is built from (fct_feedback's incremental watermark).

with

tickets as (

    select
        'ticket' as item_type,
        'zendesk' as item_source,
        ticket_id as item_source_id,
        'zendesk_' || coalesce(channel, 'unknown') as channel,
        'support' as department,
        requester_id as contact_id,
        account_id,
        product_area,
        language,
        cast(null as integer) as rating,
        concat_ws(E'\n', subject, description) as feedback_text,
        created_at,
        loaded_at
    from {{ ref('stg_zendesk__tickets') }}
    where not is_deleted

),

ratings as (

    select
        'satisfaction_rating' as item_type,
        'zendesk' as item_source,
        r.satisfaction_rating_id as item_source_id,
        'zendesk_csat' as channel,
        'support' as department,
        r.requester_id as contact_id,
        t.account_id,
        t.product_area,
        t.language,
        case r.score when 'good' then 1 when 'bad' then 0 end as rating,
        r.comment as feedback_text,
        r.created_at,
        greatest(r.loaded_at, t.loaded_at) as loaded_at
    from {{ ref('stg_zendesk__satisfaction_ratings') }} as r
    left join {{ ref('stg_zendesk__tickets') }} as t on t.ticket_id = r.ticket_id
    where r.score in ('good', 'bad')

),

reviews as (

    select
        'review' as item_type,
        platform as item_source,
        review_id as item_source_id,
        platform as channel,
        'product' as department,
        contact_id,
        cast(null as text) as account_id,
        cast(null as text) as product_area,
        language,
        rating,
        concat_ws(E'\n', title, body) as feedback_text,
        created_at,
        loaded_at
    from {{ ref('stg_reviews__reviews') }}

),

notes as (

    select
        'note' as item_type,
        origin as item_source,
        note_id as item_source_id,
        kind as channel,
        department,
        contact_id,
        account_id,
        cast(null as text) as product_area,
        cast(null as text) as language,
        rating,
        text as feedback_text,
        created_at,
        loaded_at
    from {{ ref('stg_drops__notes') }}

)

select * from tickets
union all
select * from ratings
union all
select * from reviews
union all
select * from notes
