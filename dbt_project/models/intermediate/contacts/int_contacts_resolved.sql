-- One row per CRM contact with the canonical contact it resolves to, and the consent that
-- applies to the canonical contact: the most restrictive decision among everyone merged into
-- it (a "no" from any duplicate is a no; docs/decisions.md). `contact_changed_at` is the newest
-- write to anything that decides these columns (a contact row, a merge, a consent decision) in
-- the canonical contact's group, so fct_feedback reprocesses the items of a contact whose
-- consent changed.

with

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

merges as (

    select * from {{ ref('stg_governance__contact_merges') }}

),

consent as (

    select * from {{ ref('stg_governance__consent') }}

),

resolved as (

    select
        contacts.contact_id,
        coalesce(merges.merged_into_contact_id, contacts.contact_id) as canonical_contact_id,
        greatest(contacts.loaded_at, merges.merged_at) as resolved_at
    from contacts
    left join merges on merges.contact_id = contacts.contact_id

),

consent_by_canonical as (

    select
        resolved.canonical_contact_id,
        coalesce(bool_and(consent.is_granted) filter (where consent.purpose = 'contact'), false)
            as has_contact_consent,
        coalesce(bool_and(consent.is_granted) filter (where consent.purpose = 'improvement'), false)
            as has_improvement_consent,
        greatest(max(resolved.resolved_at), max(consent.recorded_at)) as contact_changed_at
    from resolved
    left join consent on consent.contact_id = resolved.contact_id
    group by 1

)

select
    resolved.contact_id,
    resolved.canonical_contact_id,
    consent_by_canonical.has_contact_consent,
    consent_by_canonical.has_improvement_consent,
    consent_by_canonical.contact_changed_at
from resolved
inner join consent_by_canonical using (canonical_contact_id)
