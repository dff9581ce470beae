"""Alembic migrations, run programmatically: `feedbackloop db migrate` and every data command."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # env.py reuses this engine instead of building one from an ini file.
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table_schema": "ops"}
        ).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Upgrade to `revision`; returns False when the database was already there (a no-op)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return False
    command.upgrade(alembic_config(engine), revision)
    return True


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
