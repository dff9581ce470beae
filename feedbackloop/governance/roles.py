"""Database roles: `bi_reader` (created by migration 0002) gets a login for BI tools."""

from __future__ import annotations

from sqlalchemy import Engine, text


def enable_bi_reader_login(engine: Engine, password: str) -> None:
    """Give bi_reader a password so Looker & co. can connect; it still reads marts only."""
    with engine.begin() as conn:
        # DDL takes no bind parameters; quote_literal escapes the password server-side.
        statement = conn.execute(
            text("SELECT format('ALTER ROLE bi_reader WITH LOGIN PASSWORD %L', CAST(:p AS text))"),
            {"p": password},
        ).scalar_one()
        conn.execute(text(statement))
