-- The funnel narrows: answers <= opens <= sends, so both rates lie between 0 and 1.
select *
from {{ ref('mart_survey_funnel') }}
where survey_sends < 1
   or survey_opens > survey_sends
   or survey_answers > survey_opens
   or open_rate not between 0 and 1
   or response_rate not between 0 and 1
