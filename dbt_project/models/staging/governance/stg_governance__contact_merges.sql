with

source as (

    select * from {{ source('governance', 'contact_merges') }}

),

-- Contact ids are shared across sources (a Zendesk user carries its CRM id), so the same
-- person can be merged once per source: keep one row per id, the CRM's first, as
-- stg_crm__contacts does.
deduplicated as (

    select distinct on (contact_source_id) *
    from source
    order by contact_source_id, (contact_source = 'crm') desc, merged_at desc

),

renamed as (

    select
        -- ids
        contact_source_id as contact_id,
        merged_into_source_id as merged_into_contact_id,

        -- attributes
        rule as merge_rule,
        merged_by,

        -- timestamps
        merged_at

    from deduplicated

)

select * from renamed
