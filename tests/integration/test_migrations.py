"""Schema: migrations up from empty, idempotent, matching the models; append-only audit log."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import ProgrammingError

from feedbackloop.db.migrate import current_revision, downgrade, head_revision, upgrade
from feedbackloop.db.models import SCHEMAS, Base

EXPECTED_TABLES = {
    "raw": {
        "tickets", "ticket_comments", "ticket_status_changes", "satisfaction_ratings",
        "reviews", "notes", "contacts", "accounts", "faq_articles", "webhook_events",
        "survey_responses",
        "segment_events",
    },
    "ops": {
        "sync_state", "quarantine", "audit_log", "actions", "action_attempts",
        "validation_runs", "health_pings", "api_usage", "human_reviews", "consent",
        "contact_merges", "flow_runs", "faq_decisions", "login_failures", "survey_links",
        "milestones", "alembic_version",
    },
    "nlp": {"feedback_scores", "clusters", "topic_assignments"},
}  # fmt: skip


def test_upgrade_from_empty_creates_every_schema_and_table(bare_engine: Engine) -> None:
    assert current_revision(bare_engine) is None
    assert upgrade(bare_engine) is True
    inspector = inspect(bare_engine)
    for schema, tables in EXPECTED_TABLES.items():
        assert set(inspector.get_table_names(schema=schema)) == tables
    assert current_revision(bare_engine) == head_revision()


def test_upgrade_again_is_a_no_op(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ops.sync_state (source, stream) VALUES ('z', 't')"))
    assert upgrade(engine) is False
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops.sync_state")).scalar_one() == 1


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda n, t, p: t != "schema" or n in SCHEMAS,
                "compare_type": True,
                "version_table_schema": "ops",
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names(schema="raw")) == set()
    assert upgrade(engine) is True
    assert current_revision(engine) == head_revision()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ops.audit_log SET actor = 'someone else'",
        "DELETE FROM ops.audit_log",
        "TRUNCATE ops.audit_log",
    ],
)
def test_audit_log_refuses_changes(engine: Engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.audit_log (actor, action, entity_type, entity_id) "
                "VALUES ('test', 'merge', 'contact', 'crm-1')"
            )
        )
    with pytest.raises(ProgrammingError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT actor, action FROM ops.audit_log")).one()
    assert tuple(row) == ("test", "merge")


def test_audit_log_accepts_inserts(engine: Engine) -> None:
    from feedbackloop.governance import audit

    with engine.begin() as conn:
        audit.record(
            conn,
            actor="flow-run/1",
            action="quarantine",
            entity_type="ticket",
            entity_id="123",
            details={"reason": "bad timestamp"},
            reason="test",
        )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops.audit_log")).scalar_one() == 1
