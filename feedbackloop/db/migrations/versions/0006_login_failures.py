"""failed dashboard logins (masked), for the failures page

Revision ID: 0006_login_failures
Revises: 0005_run_liveness_no_temp
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import now_column

revision: str = "0006_login_failures"
down_revision: str | None = "0005_run_liveness_no_temp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        now_column("occurred_at"),
        sa.Column("client_network", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=16), nullable=False),
        sa.Column("user_key", sa.String(length=16), nullable=True),
        sa.Column("known_user", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("locked_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
        schema="ops",
    )
    op.create_index("ix_login_failures_occurred", "login_failures", ["occurred_at"], schema="ops")


def downgrade() -> None:
    op.drop_index("ix_login_failures_occurred", table_name="login_failures", schema="ops")
    op.drop_table("login_failures", schema="ops")
