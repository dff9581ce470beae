"""Migrations are history: the SQL every revision runs stays what it was when it shipped.

Several revisions share blocks (`feedbackloop/db/migration_blocks.py`), so an edit there would
silently change old revisions. The upgrade and downgrade SQL of the whole chain is rendered
offline for PostgreSQL (what `alembic upgrade --sql` prints; our env.py refuses offline mode)
and compared with its digest at revision 0011. A new revision changes the digest: render, read
the diff of the new part only, and update both constants.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from pathlib import Path

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

VERSIONS = Path(__file__).resolve().parents[2] / "feedbackloop/db/migrations/versions"
HEAD = "0011_batched_send"
SQL_SHA256 = "e0249e1c93f53e43842eb58daa9cb1170f81147d7fa28f2aec49df047c882edf"
SQL_LINES = 1024


def render_chain() -> str:
    """Every revision's upgrade in order, then every downgrade in reverse, as SQL text."""
    out = io.StringIO()
    ctx = MigrationContext.configure(
        dialect_name="postgresql",
        opts={"as_sql": True, "output_buffer": out, "literal_binds": True},
    )
    modules = []
    for path in sorted(VERSIONS.glob("0*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append((path.name, module))
    with Operations.context(ctx):
        for name, module in modules:
            out.write(f"-- upgrade {name} {module.revision} <- {module.down_revision}\n")
            module.upgrade()
        for name, module in reversed(modules):
            out.write(f"-- downgrade {name}\n")
            module.downgrade()
    return out.getvalue()


def test_the_sql_of_every_revision_is_unchanged() -> None:
    sql = render_chain()
    assert f"-- upgrade {HEAD}.py" in sql, "a new revision: update HEAD, SQL_SHA256, SQL_LINES"
    assert sql.count("\n") == SQL_LINES
    assert hashlib.sha256(sql.encode()).hexdigest() == SQL_SHA256
