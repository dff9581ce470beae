-- One row per feedback item with routing actions: what the outbox decided and what was carried
-- out. Shadow decisions (rules in their rollout weeks) and skipped ones (no consent, no open
-- ticket) are not actions taken.

with

actions as (

    select * from {{ ref('stg_ops__actions') }}

)

select
    feedback_key,
    count(*) filter (where status not in ('shadow', 'skipped')) as actions_decided,
    count(*) filter (where is_sent) as actions_sent,
    string_agg(distinct action_type, ',' order by action_type) filter (where is_sent)
        as action_types_sent,
    max(updated_at) as actions_changed_at
from actions
group by feedback_key
