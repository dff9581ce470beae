"""One-statement reads and the consent rows several test folders set up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Row, text


def rows(engine: Engine, sql: str, **params: Any) -> list[Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def rows_by(engine: Engine, column: str, sql: str, **params: Any) -> dict[Any, Row[Any]]:
    """The rows `sql` returns, by their value of `column` (the last row wins)."""
    return {getattr(r, column): r for r in rows(engine, sql, **params)}


def one(engine: Engine, sql: str, **params: Any) -> Row[Any]:
    """The single row `sql` returns (an error when it returns none or more)."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def set_consent(conn: Connection, contact_id: str, purpose: str, granted: bool) -> None:
    """A CRM contact's consent for `purpose`, replacing an earlier answer."""
    conn.execute(
        text(
            "INSERT INTO ops.consent (contact_source, contact_source_id, purpose, granted, "
            "recorded_by) VALUES ('crm', :c, :p, :g, 'test') "
            "ON CONFLICT (contact_source, contact_source_id, purpose) "
            "DO UPDATE SET granted = excluded.granted"
        ),
        {"c": contact_id, "p": purpose, "g": granted},
    )


def insert_orphan_comment(engine: Engine) -> None:
    """A ticket comment whose ticket does not exist: dbt's relationships test on
    `stg_zendesk__ticket_comments` fails on it."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw.ticket_comments (source, source_id, ticket_source_id, "
                "author_role, body, updated_at) VALUES ('zendesk', 'orphan-1', 'no-such-ticket', "
                "'agent', 'hello', now())"
            )
        )
