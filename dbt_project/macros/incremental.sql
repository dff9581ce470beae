{#- Watermarks of the incremental marts (docs/decisions.md, "Incremental marts: a watermark
    from the open transactions").

    A row written by a transaction that is still open when a build reads the sources is not
    seen by that build, and its timestamps (now(): loaded_at, scored_at, ...) are the start of
    that transaction. So the next build must reread everything written since the earliest
    start of a transaction open in this database when the build began: that, and not a guess
    of how late a commit can be, is the watermark. Read before the model's statement takes its
    snapshot (run_query at render time), so a transaction that commits in between is reread,
    never missed. When the role cannot see other roles' sessions (no pg_read_all_stats), it
    falls back to the build's start less var('fct_feedback_lookback_minutes'). -#}
{% macro incremental_watermark() -%}
    {%- if execute -%}
        {%- set sql -%}
            select cast(case
                when bool_or(query = '<insufficient privilege>')
                    then now() - interval '{{ var("fct_feedback_lookback_minutes", 30) }} minutes'
                else least(now(), min(xact_start))
            end as text)
            from pg_stat_activity
            where datname = current_database() and backend_type = 'client backend'
        {%- endset -%}
        {%- set mark = run_query(sql).columns[0].values()[0] -%}
        cast('{{ mark }}' as timestamptz)
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}

{#- The newest watermark of an incremental model's rows; -infinity for an empty table (every
    source row is newer). Read once at render time and written in as a literal: as a subquery
    each of a model's filters scanned the whole table again (six scans in fct_feedback). Only
    the model's own build writes the table, so the value cannot move before it runs. -#}
{% macro last_watermark(relation) -%}
    {%- if execute -%}
        {%- set sql -%}
            select cast(coalesce(max(watermark_at), '-infinity'::timestamptz) as text)
            from {{ relation }}
        {%- endset -%}
        {%- set mark = run_query(sql).columns[0].values()[0] -%}
        cast('{{ mark }}' as timestamptz)
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#- is_incremental(), and the table already has watermark_at: a table built before the
    watermark existed is rewritten whole once (on_schema_change adds the column) instead of
    failing on the missing column. -#}
{% macro is_watermarked_incremental() -%}
    {{ return(is_incremental()
        and 'watermark_at' in (adapter.get_columns_in_relation(this) | map(attribute='name'))) }}
{%- endmacro %}
