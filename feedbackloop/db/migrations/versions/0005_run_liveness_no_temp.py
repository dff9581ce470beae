"""flow runs recorded at their start (process, heartbeat); no TEMP for PUBLIC

Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedbackloop.db.migration_blocks import do_block

revision: str = "0005_run_liveness_no_temp"
down_revision: str | None = "0004"

# bi_reader gets no temporary tables: TEMP leaves PUBLIC. The pipeline role keeps it (dbt's
# incremental models build a temporary table): the owner holds it anyway, another pipeline
# user gets it granted first. Only the owner (or a superuser) may change database privileges;
# without that, the NOTICE tells the DBA what to run.
REVOKE_TEMP = do_block(
    """\
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bi_reader')
       AND has_database_privilege('bi_reader', current_database(), 'TEMPORARY') THEN
        RAISE NOTICE 'bi_reader can still create temporary tables: as the database owner, run '
                     'REVOKE TEMPORARY ON DATABASE % FROM PUBLIC (README, "Database roles")',
                     current_database();
    END IF;
""",
    without_privilege="""\
    RAISE NOTICE 'not allowed to change privileges on %: the owner should revoke TEMPORARY '
                 'from PUBLIC (README, "Database roles")', current_database();
""",
)

GRANT_TEMP_BACK = do_block(
    """\
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
"""
)


def _ended_at_nullable(nullable: bool) -> None:
    """`ops.flow_runs.ended_at` NULL while a run is Running (upgrade), or never (downgrade)."""
    op.alter_column(
        "flow_runs",
        "ended_at",
        existing_type=sa.DateTime(timezone=True),
        nullable=nullable,
        existing_server_default=sa.text("now()"),
        schema="ops",
    )


def upgrade() -> None:
    # A run is recorded when it starts (state Running, no end yet) with the process running it
    # and a heartbeat, so the health ping can tell a run that vanished (kill -9, OOM) from a
    # live one and mark it Crashed.
    _ended_at_nullable(True)
    op.add_column("flow_runs", sa.Column("run_name", sa.String(length=255)), schema="ops")
    op.add_column("flow_runs", sa.Column("host", sa.String(length=255)), schema="ops")
    op.add_column("flow_runs", sa.Column("pid", sa.Integer()), schema="ops")
    op.add_column(
        "flow_runs",
        sa.Column("process_started_at", sa.DateTime(timezone=True)),
        schema="ops",
    )
    op.add_column("flow_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True)), schema="ops")
    op.create_index(
        "ix_flow_runs_running",
        "flow_runs",
        ["state"],
        schema="ops",
        postgresql_where=sa.text("state = 'Running'"),
    )
    op.execute(REVOKE_TEMP)


def downgrade() -> None:
    op.execute(GRANT_TEMP_BACK)
    op.drop_index("ix_flow_runs_running", table_name="flow_runs", schema="ops")
    for column in ("heartbeat_at", "process_started_at", "pid", "host", "run_name"):
        op.drop_column("flow_runs", column, schema="ops")
    op.execute(
        "UPDATE ops.flow_runs SET ended_at = coalesce(started_at, now()) WHERE ended_at IS NULL"
    )
    _ended_at_nullable(False)
