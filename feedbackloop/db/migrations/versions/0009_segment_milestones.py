"""product events from Segment, reached usage milestones, milestone items in the contract

- raw.segment_events: Segment `track` and `identify` calls, masked, unique on `message_id`
  (Segment's messageId, keyed-hashed when it holds personal data).
- ops.milestones: a usage milestone reached by a user or an account, once ever per
  (name, per, subject_id) by a unique constraint.
- ops.feedback_items gains `item_type = 'milestone'` rows (one per ops.milestones row, no text,
  so scoring and topics never read them) with the same column list as 0008.

Revision ID: 0009_segment_milestones
Revises: 0008_feedback_items
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_segment_milestones"
down_revision: str | None = "0008_feedback_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen at this revision (0008's view plus the milestone branch); a later change to the
# contract is a new revision.
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
{milestones}) items
"""

# A reached milestone: no text (nothing to score or cluster), the product's department, the
# contact the user resolved to when it was reached, created when it was reached.
_MILESTONES = """    UNION ALL
    SELECT 'milestone', CAST('segment' AS varchar(64)), CAST(m.id AS varchar(128)), 'segment',
           'product', m.contact_id, m.account_id, CAST(NULL AS varchar(64)),
           CAST(NULL AS varchar(16)), NULL, NULL, CAST(NULL AS varchar(128)),
           CAST(NULL AS varchar(16)), m.reached_at, m.recorded_at, m.recorded_at
    FROM ops.milestones m
"""

FEEDBACK_ITEMS = "CREATE OR REPLACE VIEW ops.feedback_items AS" + _ITEMS_0008.format(
    milestones=_MILESTONES
)
FEEDBACK_ITEMS_0008 = "CREATE OR REPLACE VIEW ops.feedback_items AS" + _ITEMS_0008.format(
    milestones=""
)


def upgrade() -> None:
    op.create_table(
        "segment_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), server_default="segment", nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("call_type", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("anonymous_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "traits", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "call_type IN ('track', 'identify')", name=op.f("ck_segment_events_call_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_events")),
        sa.UniqueConstraint("message_id", name="uq_segment_events_message_id"),
        schema="raw",
    )
    op.create_index(
        "ix_segment_events_event", "segment_events", ["event", "occurred_at"], schema="raw"
    )
    op.create_index("ix_segment_events_user_id", "segment_events", ["user_id"], schema="raw")
    op.create_table(
        "milestones",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("per", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("contact_id", sa.String(length=128), nullable=True),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "definition",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "evidence", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint("per IN ('user', 'account')", name=op.f("ck_milestones_per")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
        sa.UniqueConstraint("name", "per", "subject_id", name="uq_milestones_name_per_subject"),
        schema="ops",
    )
    op.create_index("ix_milestones_recorded_at", "milestones", ["recorded_at"], schema="ops")
    op.execute(FEEDBACK_ITEMS)
    op.execute("COMMENT ON VIEW ops.feedback_items IS 'The feedback-item contract (0009)'")


def downgrade() -> None:
    op.execute(FEEDBACK_ITEMS_0008)
    op.execute("COMMENT ON VIEW ops.feedback_items IS 'The feedback-item contract (0008)'")
    op.drop_index("ix_milestones_recorded_at", table_name="milestones", schema="ops")
    op.drop_table("milestones", schema="ops")
    op.drop_index("ix_segment_events_user_id", table_name="segment_events", schema="raw")
    op.drop_index("ix_segment_events_event", table_name="segment_events", schema="raw")
    op.drop_table("segment_events", schema="raw")
