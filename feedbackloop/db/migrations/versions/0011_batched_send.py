"""batched sending: the dispatcher run that claimed an action

- ops.actions.claimed_by: the key of the session advisory lock held by the dispatcher run that
  marked the action `sending` (issue #20). While that lock is held (pg_locks) the run is alive
  and the action is its own; when it is not, the run is gone and the next one takes the action
  over. NULL for actions never claimed, or claimed before this revision.

Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_batched_send"
down_revision: str | None = "0010_feedback_form"


def upgrade() -> None:
    op.add_column("actions", sa.Column("claimed_by", sa.Integer(), nullable=True), schema="ops")


def downgrade() -> None:
    op.drop_column("actions", "claimed_by", schema="ops")
