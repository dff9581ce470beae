"""quarantine keyed by content: one unresolved row per (source, stream, payload hash)

Drops used to skip a record already parked under the same file name and line, so another bad
record on the same line of a file with the same name was counted and never stored. The key is
now the record's content, computed by the database for every writer.

Unresolved rows that repeat an earlier row's content exactly (same source, stream and
payload) are removed before the unique index is built: the oldest row stays, and each
sighting is still in ops.audit_log.

Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_quarantine_content_key"
down_revision: str | None = "0006_login_failures"

# Frozen copy of feedbackloop.db.models.QUARANTINE_CONTENT_KEY at this revision.
CONTENT_KEY = "encode(sha256(jsonb_send(coalesce(payload, 'null'::jsonb))), 'hex')"


def upgrade() -> None:
    op.add_column(
        "quarantine",
        sa.Column(
            "content_key",
            sa.String(length=64),
            sa.Computed(CONTENT_KEY, persisted=True),
            nullable=False,
        ),
        schema="ops",
    )
    op.execute(
        """
        DELETE FROM ops.quarantine AS later
        USING ops.quarantine AS first
        WHERE later.resolved_at IS NULL AND first.resolved_at IS NULL
          AND later.source = first.source AND later.stream = first.stream
          AND later.content_key = first.content_key AND later.id > first.id
        """
    )
    op.create_index(
        "uq_quarantine_content",
        "quarantine",
        ["source", "stream", "content_key"],
        unique=True,
        schema="ops",
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_quarantine_content", table_name="quarantine", schema="ops")
    op.drop_column("quarantine", "content_key", schema="ops")
