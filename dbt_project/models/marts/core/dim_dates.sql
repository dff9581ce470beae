-- One row per calendar day from 2020-01-01 to a year from now: a date dimension for BI tools
-- and the day-grain time spine dbt's semantic layer requires for metrics.

with

days as (

    select cast(day as date) as date_day
    from generate_series(
        cast('2020-01-01' as timestamp),
        cast(current_date + 365 as timestamp),
        interval '1 day'
    ) as spine (day)

)

select
    date_day,
    cast(date_trunc('week', date_day) as date) as week_start,
    to_char(date_day, 'IYYY-"W"IW') as iso_week,
    cast(date_trunc('month', date_day) as date) as month_start,
    extract(isodow from date_day) >= 6 as is_weekend
from days
