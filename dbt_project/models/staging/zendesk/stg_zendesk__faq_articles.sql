with

source as (

    select * from {{ source('zendesk', 'faq_articles') }}

),

renamed as (

    select
        -- ids
        source_id as article_id,
        topic_key,

        -- text
        title,
        body,

        -- timestamps
        published_at,
        updated_at,
        loaded_at

    from source

)

select * from renamed
