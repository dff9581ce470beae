"""failed dashboard logins (masked), for the failures page

Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import create_id_table, now_column

revision: str = "0006_login_failures"
down_revision: str | None = "0005_run_liveness_no_temp"


def upgrade() -> None:
    create_id_table(
        "login_failures",
        now_column("occurred_at"),
        sa.Column("client_network", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=16), nullable=False),
        sa.Column("user_key", sa.String(length=16), nullable=True),
        sa.Column("known_user", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("locked_seconds", sa.Integer(), nullable=True),
        schema="ops",
    )
    op.create_index("ix_login_failures_occurred", "login_failures", ["occurred_at"], schema="ops")


def downgrade() -> None:
    op.drop_index("ix_login_failures_occurred", table_name="login_failures", schema="ops")
    op.drop_table("login_failures", schema="ops")
