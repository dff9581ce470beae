with

source as (

    select * from {{ source('nlp', 'topic_assignments') }}

),

renamed as (

    select
        -- ids
        {{ feedback_key_columns() }},
        -- -1 marks an outlier in nlp; null here, so cluster_id always names a real cluster
        nullif(cluster_id, -1) as cluster_id,

        -- attributes
        topic_key,
        cluster_id = -1 as is_outlier,
        encoder,

        -- timestamps
        assigned_at

    from source

)

select * from renamed
