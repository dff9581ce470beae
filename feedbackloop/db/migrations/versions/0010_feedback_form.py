"""the quick feedback form: raw.survey_responses, ops.survey_links, survey answers as items

- raw.survey_responses: one row per answer to `POST /feedback`, text masked; an answer through
  a survey link is ``link-<id>`` (a second answer replaces the first), any other a random id.
- ops.survey_links: the server side of a survey link's random token (ticket, customer, action,
  rule, template, segment), with when it was first opened and first answered.
- ops.feedback_items: the same column list as 0008 (with 0009's milestones), plus
  `survey_response` rows, so scoring,
  topics, routing and the marts see the answers like any other item.

Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import (
    MILESTONES_BRANCH_0009,
    create_id_table,
    create_raw_table,
    feedback_items_view,
    item_key_columns,
    now_column,
)

revision: str = "0010_feedback_form"
down_revision: str | None = "0009_segment_milestones"

RATING_SCALES = "rating_scale IN ('1-5', '0-10')"
RATING_RANGE = (
    "rating IS NULL OR rating BETWEEN (CASE rating_scale WHEN '0-10' THEN 0 ELSE 1 END) "
    "AND (CASE rating_scale WHEN '0-10' THEN 10 ELSE 5 END)"
)

# Frozen at this revision: 0008's view, 0009's milestone branch, and the survey answers.
# An answer about a ticket (through a survey link) belongs to support, any other to product;
# its product area and ticket status are the ticket's.
_SURVEY_BRANCH = """    UNION ALL
    SELECT 'survey_response', s.source, s.source_id, 'feedback_form',
           CASE WHEN s.ticket_source_id IS NOT NULL THEN 'support' ELSE 'product' END,
           s.contact_source_id, coalesce(s.account_source_id, t.account_source_id),
           t.product_area, coalesce(s.language, t.language), s.rating, s.text,
           s.ticket_source_id, t.status,
           s.created_at, s.updated_at, greatest(s.loaded_at, t.loaded_at)
    FROM raw.survey_responses s
    LEFT JOIN raw.tickets t ON t.source = 'zendesk' AND t.source_id = s.ticket_source_id
"""

FEEDBACK_ITEMS = feedback_items_view(
    "CREATE OR REPLACE VIEW ops.feedback_items AS", MILESTONES_BRANCH_0009, _SURVEY_BRANCH
)
FEEDBACK_ITEMS_0009 = feedback_items_view(
    "CREATE OR REPLACE VIEW ops.feedback_items AS", MILESTONES_BRANCH_0009
)


def upgrade() -> None:
    create_raw_table(
        "survey_responses",
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_scale", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("consent_improvement", sa.Boolean(), nullable=False),
        sa.Column("survey_link_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket_source_id", sa.String(length=128), nullable=True),
        sa.Column("contact_source_id", sa.String(length=128), nullable=True),
        sa.Column("account_source_id", sa.String(length=128), nullable=True),
        sa.Column("email_valid", sa.Boolean(), nullable=True),
        sa.Column("email_invalid_reason", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.CheckConstraint(RATING_SCALES, name=op.f("ck_survey_responses_rating_scale")),
        sa.CheckConstraint(RATING_RANGE, name=op.f("ck_survey_responses_rating")),
    )
    create_id_table(
        "survey_links",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.BigInteger(), nullable=False),
        *item_key_columns(),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("template", sa.String(length=128), nullable=False),
        sa.Column("segment", sa.String(length=128), nullable=False),
        sa.Column("rating_scale", sa.String(length=8), nullable=False),
        sa.Column("ticket_source_id", sa.String(length=128), nullable=True),
        sa.Column("contact_source_id", sa.String(length=128), nullable=True),
        sa.Column("account_source_id", sa.String(length=128), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        now_column("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(RATING_SCALES, name=op.f("ck_survey_links_rating_scale")),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["ops.actions.id"],
            name=op.f("fk_survey_links_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("action_id", name="uq_survey_links_action_id"),
        sa.UniqueConstraint("token", name="uq_survey_links_token"),
        schema="ops",
    )
    op.execute(FEEDBACK_ITEMS)
    op.execute("COMMENT ON VIEW ops.feedback_items IS 'The feedback-item contract (0010)'")


def downgrade() -> None:
    op.execute(FEEDBACK_ITEMS_0009)
    op.execute("COMMENT ON VIEW ops.feedback_items IS 'The feedback-item contract (0009)'")
    op.drop_table("survey_links", schema="ops")
    op.drop_table("survey_responses", schema="raw")
