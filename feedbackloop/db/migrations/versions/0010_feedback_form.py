"""the quick feedback form: raw.survey_responses, ops.survey_links, survey answers as items

- raw.survey_responses: one row per answer to `POST /feedback`, text masked; an answer through
  a survey link is ``link-<id>`` (a second answer replaces the first), any other a random id.
- ops.survey_links: the server side of a survey link's random token (ticket, customer, action,
  rule, template, segment), with when it was first opened and first answered.
- ops.feedback_items: the same column list as 0008 (with 0009's milestones), plus
  `survey_response` rows, so scoring,
  topics, routing and the marts see the answers like any other item.

Revision ID: 0010_feedback_form
Revises: 0009_segment_milestones
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_feedback_form"
down_revision: str | None = "0009_segment_milestones"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RATING_SCALES = "rating_scale IN ('1-5', '0-10')"
RATING_RANGE = (
    "rating IS NULL OR rating BETWEEN (CASE rating_scale WHEN '0-10' THEN 0 ELSE 1 END) "
    "AND (CASE rating_scale WHEN '0-10' THEN 10 ELSE 5 END)"
)

# Frozen at this revision: 0008's view, 0009's milestone branch, and the survey answers.
_ITEMS_0008 = """
SELECT item_type, item_source, item_source_id, channel, department, contact_id, account_id,
       product_area, language, rating, text, coalesce(text, '') <> '' AS has_text,
       zendesk_ticket_id, ticket_status, created_at, updated_at, loaded_at
FROM (
    SELECT 'ticket'::text AS item_type, t.source AS item_source, t.source_id AS item_source_id,
           'zendesk_' || coalesce(t.channel, 'unknown') AS channel, 'support'::text AS department,
           t.requester_source_id AS contact_id, t.account_source_id AS account_id,
           t.product_area, t.language, NULL::integer AS rating,
           concat_ws(E'\\n', t.subject, t.description) AS text,
           CASE WHEN t.source = 'zendesk' THEN t.source_id END AS zendesk_ticket_id,
           t.status AS ticket_status, t.created_at, t.updated_at, t.loaded_at
    FROM raw.tickets t
    WHERE NOT t.is_deleted
    UNION ALL
    SELECT 'satisfaction_rating', r.source, r.source_id, 'zendesk_csat', 'support',
           r.requester_source_id, t.account_source_id, t.product_area, t.language,
           CASE r.score WHEN 'good' THEN 1 WHEN 'bad' THEN 0 END, r.comment,
           CASE WHEN r.source = 'zendesk' THEN r.ticket_source_id END, t.status,
           r.created_at, r.updated_at, greatest(r.loaded_at, t.loaded_at)
    FROM raw.satisfaction_ratings r
    LEFT JOIN raw.tickets t ON t.source = r.source AND t.source_id = r.ticket_source_id
    WHERE r.score IN ('good', 'bad')
    UNION ALL
    SELECT 'review', v.source, v.source_id, v.source, 'product', v.contact_source_id, NULL,
           NULL, v.language, v.rating, concat_ws(E'\\n', v.title, v.body), NULL, NULL,
           v.created_at, v.updated_at, v.loaded_at
    FROM raw.reviews v
    UNION ALL
    SELECT 'note', n.source, n.source_id, n.kind, n.department, n.contact_source_id,
           n.account_source_id, NULL, NULL, n.rating, n.text, NULL, NULL,
           n.created_at, n.updated_at, n.loaded_at
    FROM raw.notes n
{survey}) items
"""

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

# 0009_segment_milestones' branch, as that revision froze it.
_MILESTONES_0009 = """    UNION ALL
    SELECT 'milestone', CAST('segment' AS varchar(64)), CAST(m.id AS varchar(128)), 'segment',
           'product', m.contact_id, m.account_id, CAST(NULL AS varchar(64)),
           CAST(NULL AS varchar(16)), NULL, NULL, CAST(NULL AS varchar(128)),
           CAST(NULL AS varchar(16)), m.reached_at, m.recorded_at, m.recorded_at
    FROM ops.milestones m
"""

FEEDBACK_ITEMS = "CREATE OR REPLACE VIEW ops.feedback_items AS" + _ITEMS_0008.format(
    survey=_MILESTONES_0009 + _SURVEY_BRANCH
)
FEEDBACK_ITEMS_0009 = "CREATE OR REPLACE VIEW ops.feedback_items AS" + _ITEMS_0008.format(
    survey=_MILESTONES_0009
)


def upgrade() -> None:
    op.create_table(
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
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(RATING_SCALES, name=op.f("ck_survey_responses_rating_scale")),
        sa.CheckConstraint(RATING_RANGE, name=op.f("ck_survey_responses_rating")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("source", "source_id", name="uq_survey_responses_source_source_id"),
        schema="raw",
    )
    op.create_table(
        "survey_links",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.BigInteger(), nullable=False),
        sa.Column("item_type", sa.String(length=32), nullable=False),
        sa.Column("item_source", sa.String(length=64), nullable=False),
        sa.Column("item_source_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("template", sa.String(length=128), nullable=False),
        sa.Column("segment", sa.String(length=128), nullable=False),
        sa.Column("rating_scale", sa.String(length=8), nullable=False),
        sa.Column("ticket_source_id", sa.String(length=128), nullable=True),
        sa.Column("contact_source_id", sa.String(length=128), nullable=True),
        sa.Column("account_source_id", sa.String(length=128), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_links")),
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
