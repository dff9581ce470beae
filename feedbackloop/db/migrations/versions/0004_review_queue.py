"""human review queue: weekly batches of sampled actions, correct/wrong verdicts

Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import now_column

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    # A queued review is a row without a reviewer, verdict or reviewed_at; rating it fills them.
    op.add_column("human_reviews", sa.Column("batch", sa.String(16)), schema="ops")
    op.add_column("human_reviews", sa.Column("verdict", sa.String(8)), schema="ops")
    op.add_column(
        "human_reviews",
        now_column("queued_at"),
        schema="ops",
    )
    op.alter_column("human_reviews", "reviewer", nullable=True, schema="ops")
    op.alter_column(
        "human_reviews", "reviewed_at", nullable=True, server_default=None, schema="ops"
    )
    op.create_check_constraint(
        op.f("ck_human_reviews_verdict"),
        "human_reviews",
        "verdict IS NULL OR verdict IN ('correct', 'wrong')",
        schema="ops",
    )
    op.create_check_constraint(
        op.f("ck_human_reviews_reviewed"),
        "human_reviews",
        "(reviewed_at IS NULL) = (reviewer IS NULL)",
        schema="ops",
    )
    op.create_unique_constraint(
        "uq_human_reviews_batch_action", "human_reviews", ["batch", "action_id"], schema="ops"
    )


def downgrade() -> None:
    op.drop_constraint("uq_human_reviews_batch_action", "human_reviews", schema="ops")
    op.drop_constraint("ck_human_reviews_reviewed", "human_reviews", schema="ops")
    op.drop_constraint("ck_human_reviews_verdict", "human_reviews", schema="ops")
    op.execute("DELETE FROM ops.human_reviews WHERE reviewed_at IS NULL")
    op.alter_column(
        "human_reviews",
        "reviewed_at",
        nullable=False,
        server_default=sa.text("now()"),
        schema="ops",
    )
    op.alter_column("human_reviews", "reviewer", nullable=False, schema="ops")
    for column in ("queued_at", "verdict", "batch"):
        op.drop_column("human_reviews", column, schema="ops")
