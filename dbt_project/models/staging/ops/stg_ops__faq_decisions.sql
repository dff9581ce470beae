with

source as (

    select * from {{ source('ops', 'faq_decisions') }}

),

renamed as (

    select
        -- ids
        id as faq_decision_id,
        cluster_id,
        article_source,
        article_source_id as article_id,

        -- attributes
        decision,
        decided_by,

        -- numbers
        cluster_size as cluster_size_at_decision,

        -- timestamps
        decided_at

    from source

)

select * from renamed
