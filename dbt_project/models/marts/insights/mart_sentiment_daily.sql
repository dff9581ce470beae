-- One row per day (var('reporting_timezone')) x channel x product area with at least one
-- feedback item. Items not scored yet count in `items` only. Items without a product area
-- (reviews, notes, CSAT of tickets without one) are grouped under 'none'.

with

feedback as (

    select * from {{ ref('fct_feedback') }}

),

final as (

    select
        -- grain
        {{ local_day('created_at') }} as sentiment_date,
        channel,
        coalesce(product_area, 'none') as product_area,

        -- counts
        count(*) as items,
        {{ sentiment_label_counts() }},
        count(*) filter (where is_frustrated) as frustrated_items,

        -- scores
        round(cast(avg(sentiment_score) as numeric), 4) as mean_sentiment_score

    from feedback
    group by 1, 2, 3

)

select * from final
