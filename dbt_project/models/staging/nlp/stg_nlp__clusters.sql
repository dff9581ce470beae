with

source as (

    select * from {{ source('nlp', 'clusters') }}

),

renamed as (

    select
        -- ids
        cluster_id,

        -- attributes
        encoder,
        label as cluster_label,
        key_phrases,
        (
            select string_agg(coalesce(phrase ->> 'phrase', phrase #>> '{}'), ', ' order by ordinality)
            from jsonb_array_elements(source.key_phrases) with ordinality as phrases (phrase, ordinality)
            -- the label's phrases: the first three (the cluster label is its central question)
            where ordinality <= 3
        ) as key_phrase_list,

        -- numbers
        size as cluster_size,

        -- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
