"""Alembic environment: one engine from feedbackloop.db, version table in `ops`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from feedbackloop.db.models import SCHEMAS, Base

# Any stable 64-bit number: serializes concurrent `migrate` runs on the same database.
MIGRATION_LOCK_ID = 0x66656564_6C6F6F70

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from feedbackloop.db import get_engine

        engine = get_engine()
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        try:
            for schema in SCHEMAS:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.commit()
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                version_table_schema="ops",
                include_schemas=True,
                include_name=lambda name, type_, parent: type_ != "schema" or name in SCHEMAS,
                compare_type=True,
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `feedbackloop db migrate`")
run_migrations_online()
