"""The project's closed vocabularies, in one place: sentiment labels, item types, ticket
statuses, action types and statuses, consent purposes, departments.

Pure constants with no import of feedbackloop, so every layer (db models included) may import
it. The sentiment levels are defined by the spaCy pipeline (`nlp` is a leaf that imports
nothing of feedbackloop) and re-exported here. The SQL side reads the same lists: CHECK
constraints from `db.models`, dbt's accepted_values tests from the vars in `dbt_project.yml`
(tests/unit/test_vocabulary.py keeps those in step).
"""

from __future__ import annotations

from nlp.labels import LABELS

# Five sentiment levels, most negative first (the pipeline's `doc._.sentiment_label`).
SENTIMENT_LABELS: tuple[str, ...] = LABELS
NEGATIVE_LABELS = ("very_negative", "negative")

# A feedback item (ops.feedback_items, feedbackloop.items) is one of these.
# A `milestone` is a usage milestone reached (ops.milestones): no text, never scored.
# A `survey_response` is an answer to the quick feedback form (raw.survey_responses).
ITEM_TYPES = ("ticket", "satisfaction_rating", "review", "note", "milestone", "survey_response")
# Raw rows with free text the governance gate checks: the item types and ticket comments
# (the conversation of a ticket, not an item of its own).
TEXT_ROW_TYPES = (
    "ticket",
    "ticket_comment",
    "satisfaction_rating",
    "review",
    "note",
    "survey_response",
)

# Zendesk ticket statuses; `deleted` is stored (a ticket removed in Zendesk) but is never a
# status a rule can ask for.
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed", "deleted")
RULE_TICKET_STATUSES = TICKET_STATUSES[:-1]
TICKET_DONE = ("solved", "closed")
RATING_SCORES = ("good", "bad", "offered", "unoffered")

ACTION_TYPES = ("slack_alert", "auto_reply", "create_task", "tag", "set_priority")
ACTION_STATUSES = ("pending", "sending", "sent", "failed", "shadow", "skipped")

CONSENT_PURPOSES = ("contact", "improvement")
DEPARTMENTS = ("sales", "cs", "support", "marketing", "product")

# The quick feedback form (feedbackloop.surveys): its rating scales, 1-5 by default and 0-10
# (NPS) when a survey link or the setting asks for it.
RATING_SCALES = ("1-5", "0-10")
