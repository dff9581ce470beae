-- One row per feedback item (the grain of stg_contract__feedback_items), with
-- its sentiment, topic and the actions taken on it.
-- Text is shown only where the contact allows improvement use; public app-store reviews count
-- as consented when var('public_reviews_are_consented') is true (docs/decisions.md). Topic and
-- cluster are consent-gated the same way: clustering reads consented text only.
--
-- Incremental: `changed_at` is the newest write to anything a row is built from (the raw item,
-- its score, its topic, its actions, its contact's consent). A build rewrites (delete+insert on
-- feedback_key) the rows whose changed_at is at or after the newest `watermark_at`: the start
-- of the earliest transaction open when the last build that wrote rows began (macro
-- incremental_watermark; var('fct_feedback_lookback_minutes') only when the sessions cannot be
-- seen). Items that stopped being feedback (a ticket deleted in Zendesk, a CSAT answer
-- withdrawn) are deleted by the post-hooks. Changing the consent var, or the columns, needs
-- `dbt build --full-refresh --select fct_feedback`.
-- The incremental config sits here rather than in dbt_project.yml: it is inseparable from the
-- is_incremental() filter below.
-- depends_on: {{ ref('stg_zendesk__tickets') }}
-- depends_on: {{ ref('stg_zendesk__satisfaction_ratings') }}

{{
    config(
        materialized='incremental',
        unique_key='feedback_key',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        indexes=[
            {'columns': ['feedback_key'], 'unique': True},
            {'columns': ['processed_at']},
        ],
        post_hook=[
            "delete from {{ this }}
             where feedback_key in (
                select 'ticket:zendesk:' || ticket_id
                from {{ ref('stg_zendesk__tickets') }}
                where is_deleted
             )",
            "delete from {{ this }}
             where feedback_key in (
                select 'satisfaction_rating:zendesk:' || satisfaction_rating_id
                from {{ ref('stg_zendesk__satisfaction_ratings') }}
                where score not in ('good', 'bad')
             )",
        ],
    )
}}

{%- set incremental = is_watermarked_incremental() %}
{#- the last watermark, read once: one literal in every filter below -#}
{%- set since = last_watermark(this) if incremental else none %}

with

items as (

    select * from {{ ref('stg_contract__feedback_items') }}

),

contacts as (

    select * from {{ ref('stg_contract__contact_consent') }}

),

scores as (

    select * from {{ ref('stg_nlp__feedback_scores') }}

),

topics as (

    select * from {{ ref('stg_nlp__topic_assignments') }}

),

actions as (

    select * from {{ ref('int_actions_aggregated_to_items') }}

),

{% if incremental %}
-- The items with an input written since the watermark: the same rows as changed_at >= the
-- watermark (changed_at is the greatest of these timestamps), found without building the
-- unchanged rows first.
changed as (

    select feedback_key from items
    where loaded_at >= {{ since }}
    union
    select items.feedback_key
    from items
    inner join contacts on contacts.contact_id = items.contact_id
    where contacts.contact_changed_at >= {{ since }}
    union
    select feedback_key from scores where scored_at >= {{ since }}
    union
    select feedback_key from topics where assigned_at >= {{ since }}
    union
    select feedback_key from actions where actions_changed_at >= {{ since }}

),
{% endif %}

joined as (

    select
        items.item_type || ':' || items.item_source || ':' || items.item_source_id
            as feedback_key,
        items.item_type,
        items.item_source,
        items.item_source_id,
        items.channel,
        items.department,
        contacts.canonical_contact_id as contact_id,
        items.account_id,
        items.product_area,
        items.language,
        items.rating,
        coalesce(contacts.has_contact_consent, false) as has_contact_consent,
        case
            when contacts.contact_id is not null then contacts.has_improvement_consent
            when items.item_type = 'review' then {{ var('public_reviews_are_consented') }}
            else false
        end as has_improvement_consent,
        items.feedback_text,
        items.created_at,
        items.loaded_at,
        contacts.contact_changed_at
    from items
    left join contacts on contacts.contact_id = items.contact_id
    {% if incremental %}where items.feedback_key in (select feedback_key from changed){% endif %}

),

final as (

    select
        -- ids
        joined.feedback_key,
        joined.item_type,
        joined.item_source,
        joined.item_source_id,
        joined.contact_id,
        joined.account_id,

        -- dimensions
        joined.channel,
        joined.department,
        joined.product_area,
        joined.language,

        -- consent
        joined.has_contact_consent,
        joined.has_improvement_consent,

        -- text (masked at load; consented items only)
        case when joined.has_improvement_consent then joined.feedback_text end as feedback_text,

        -- sentiment
        scores.sentiment_label,
        scores.sentiment_score,
        scores.is_frustrated,
        scores.model_version as sentiment_model_version,

        -- topic (consented items only, like the clustering itself)
        case when joined.has_improvement_consent then topics.topic_key end as topic_key,
        case when joined.has_improvement_consent then topics.cluster_id end as cluster_id,

        -- actions
        coalesce(actions.actions_decided, 0) as actions_decided,
        coalesce(actions.actions_sent, 0) as actions_sent,
        actions.action_types_sent,

        -- numbers
        joined.rating,

        -- timestamps
        joined.created_at,
        scores.scored_at,
        greatest(
            joined.loaded_at,
            joined.contact_changed_at,
            scores.scored_at,
            topics.assigned_at,
            actions.actions_changed_at
        ) as changed_at,
        current_timestamp as processed_at,
        {{ incremental_watermark() }} as watermark_at

    from joined
    left join scores on scores.feedback_key = joined.feedback_key
    left join topics on topics.feedback_key = joined.feedback_key
    left join actions on actions.feedback_key = joined.feedback_key

)

select * from final

{% if incremental %}
where changed_at >= {{ since }}
{% endif %}
