"""flow runs for ops health, FAQ candidate decisions

Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import create_id_table, now_column

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    create_id_table(
        "flow_runs",
        sa.Column("flow_run_id", sa.String(length=64), nullable=False),
        sa.Column("flow_name", sa.String(length=128), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        now_column("ended_at"),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("flow_run_id", name="uq_flow_runs_flow_run_id"),
        schema="ops",
    )
    op.create_index("ix_flow_runs_flow_ended", "flow_runs", ["flow_name", "ended_at"], schema="ops")
    create_id_table(
        "faq_decisions",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("cluster_size", sa.Integer(), nullable=False),
        sa.Column("article_source", sa.String(length=64), nullable=True),
        sa.Column("article_source_id", sa.String(length=128), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        now_column("decided_at"),
        sa.CheckConstraint(
            "decision IN ('accepted', 'rejected', 'published')",
            name=op.f("ck_faq_decisions_decision"),
        ),
        schema="ops",
    )
    op.create_index(
        "ix_faq_decisions_cluster", "faq_decisions", ["cluster_id", "decided_at"], schema="ops"
    )


def downgrade() -> None:
    op.drop_index("ix_faq_decisions_cluster", table_name="faq_decisions", schema="ops")
    op.drop_table("faq_decisions", schema="ops")
    op.drop_index("ix_flow_runs_flow_ended", table_name="flow_runs", schema="ops")
    op.drop_table("flow_runs", schema="ops")
