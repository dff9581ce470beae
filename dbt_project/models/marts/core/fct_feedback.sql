-- One row per feedback item from every channel (see int_feedback_unioned for the grain).
-- Text is shown only where the contact allows improvement use; public app-store reviews count
-- as consented when var('public_reviews_are_consented') is true (docs/decisions.md).

with

items as (

    select * from {{ ref('int_feedback_unioned') }}

),

contacts as (

    select * from {{ ref('int_contacts_resolved') }}

),

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
        items.created_at
    from items
    left join contacts on contacts.contact_id = items.contact_id

)

select
    feedback_key,
    item_type,
    item_source,
    item_source_id,
    channel,
    department,
    contact_id,
    account_id,
    product_area,
    language,
    rating,
    has_contact_consent,
    has_improvement_consent,
    case when has_improvement_consent then feedback_text end as feedback_text,
    created_at
from joined
