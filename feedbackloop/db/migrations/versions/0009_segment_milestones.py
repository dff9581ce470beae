"""product events from Segment, reached usage milestones, milestone items in the contract

- raw.segment_events: Segment `track` and `identify` calls, masked, unique on `message_id`
  (Segment's messageId, keyed-hashed when it holds personal data).
- ops.milestones: a usage milestone reached by a user or an account, once ever per
  (name, per, subject_id) by a unique constraint.
- ops.feedback_items gains `item_type = 'milestone'` rows (one per ops.milestones row, no text,
  so scoring and topics never read them) with the same column list as 0008.

Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import (
    MILESTONES_BRANCH_0009,
    create_id_table,
    feedback_items_view,
    jsonb_column,
    now_column,
)

revision: str = "0009_segment_milestones"
down_revision: str | None = "0008_feedback_items"

# Frozen at this revision (0008's view plus the milestone branch); a later change to the
# contract is a new revision.
FEEDBACK_ITEMS = feedback_items_view(
    "CREATE OR REPLACE VIEW ops.feedback_items AS", MILESTONES_BRANCH_0009
)
FEEDBACK_ITEMS_0008 = feedback_items_view("CREATE OR REPLACE VIEW ops.feedback_items AS")


def upgrade() -> None:
    create_id_table(
        "segment_events",
        sa.Column("source", sa.String(length=64), server_default="segment", nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("call_type", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("anonymous_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        jsonb_column("properties", "{}"),
        jsonb_column("traits", "{}"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        now_column("loaded_at"),
        sa.CheckConstraint(
            "call_type IN ('track', 'identify')", name=op.f("ck_segment_events_call_type")
        ),
        sa.UniqueConstraint("message_id", name="uq_segment_events_message_id"),
        schema="raw",
    )
    op.create_index(
        "ix_segment_events_event", "segment_events", ["event", "occurred_at"], schema="raw"
    )
    op.create_index("ix_segment_events_user_id", "segment_events", ["user_id"], schema="raw")
    create_id_table(
        "milestones",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("per", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("contact_id", sa.String(length=128), nullable=True),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        now_column("recorded_at"),
        jsonb_column("definition", "{}"),
        jsonb_column("evidence", "{}"),
        sa.CheckConstraint("per IN ('user', 'account')", name=op.f("ck_milestones_per")),
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
