-- raw.contacts collects people from the CRM, Zendesk users (keyed by their CRM external_id when
-- set) and file drops. One row per contact id: the CRM's record wins, then Zendesk's, then a
-- drop's, and the newest within a source.

with

source as (

    select * from {{ source('crm', 'contacts') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_id
            order by case source when 'crm' then 0 when 'zendesk' then 1 else 2 end,
                updated_at desc
        ) as source_rank
    from source

),

renamed as (

    select
        -- ids
        source_id as contact_id,
        source as contact_source,
        account_source_id as account_id,
        email_hash,

        -- attributes
        email_domain,
        email_valid as is_email_valid,
        email_invalid_reason,
        language,
        erased_at is not null as is_erased,

        -- timestamps
        created_at,
        updated_at,
        loaded_at

    from ranked
    where source_rank = 1

)

select * from renamed
