{#- Reference time of the windowed marts: var('as_of') when set (replays, unit tests), else
    the time of the build. -#}
{% macro as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}

{#- A timestamptz as a local timestamp in var('reporting_timezone'), so days and weeks do not
    depend on the server's or the session's time zone. -#}
{% macro local_time(column) -%}
    ({{ column }} at time zone '{{ var("reporting_timezone", "UTC") }}')
{%- endmacro %}

{% macro local_day(column) -%}
    cast({{ local_time(column) }} as date)
{%- endmacro %}

{#- Monday of the ISO week (Postgres weeks start on Monday, as ISO 8601's do). -#}
{% macro iso_week_start(column) -%}
    cast(date_trunc('week', {{ local_time(column) }}) as date)
{%- endmacro %}

{#- ISO week label such as 2026-W44 (ISO year, which differs from the calendar year around
    New Year). -#}
{% macro iso_week_label(column) -%}
    to_char({{ local_time(column) }}, 'IYYY-"W"IW')
{%- endmacro %}

{#- Exact elapsed minutes between two timestamps, two decimals (not minute boundaries crossed). -#}
{% macro minutes_between(start_column, end_column) -%}
    round(cast(extract(epoch from ({{ end_column }} - {{ start_column }})) / 60.0 as numeric), 2)
{%- endmacro %}
