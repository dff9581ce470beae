"""contact merges, erasure marker, bi_reader role

Create Date: 2026-11-23 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import do_block, now_column

revision: str = "0002"
down_revision: str | None = "0001"

# Roles are cluster-wide and need CREATEROLE; a production pipeline user may not have it, so
# the role is created when allowed and otherwise left to the DBA (README, "Database roles").
CREATE_BI_READER = do_block(
    """\
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bi_reader') THEN
        CREATE ROLE bi_reader NOLOGIN;
    END IF;
""",
    without_privilege="""\
    RAISE NOTICE 'no CREATEROLE: create the bi_reader role by hand (see README)';
""",
)


def upgrade() -> None:
    op.create_table(
        "contact_merges",
        sa.Column("contact_source", sa.String(length=64), nullable=False),
        sa.Column("contact_source_id", sa.String(length=128), nullable=False),
        sa.Column("merged_into_source_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        now_column("merged_at"),
        sa.Column("merged_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint(
            "contact_source", "contact_source_id", name=op.f("pk_contact_merges")
        ),
        schema="ops",
    )
    op.create_index(
        "ix_contact_merges_into", "contact_merges", ["merged_into_source_id"], schema="ops"
    )
    op.add_column(
        "contacts", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True), schema="raw"
    )
    op.execute(CREATE_BI_READER)


def downgrade() -> None:
    op.drop_column("contacts", "erased_at", schema="raw")
    op.drop_index("ix_contact_merges_into", table_name="contact_merges", schema="ops")
    op.drop_table("contact_merges", schema="ops")
    # The role is cluster-wide and may own grants in other databases: it is not dropped.
