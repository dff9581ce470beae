"""One-statement reads and the contact, consent and score rows several test folders set up."""

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


def crm_contact(conn: Connection, contact_id: str, **columns: Any) -> None:
    """A CRM contact with these `columns` of raw.contacts (`updated_at`: now unless given); a
    contact already there stays as it is."""
    values = {"source_id": contact_id, **columns}
    names, placeholders = ", ".join(values), ", ".join(f":{c}" for c in values)
    if "updated_at" not in values:
        names, placeholders = f"{names}, updated_at", f"{placeholders}, now()"
    conn.execute(
        text(
            f"INSERT INTO raw.contacts (source, {names}) VALUES ('crm', {placeholders}) "
            "ON CONFLICT DO NOTHING"
        ),
        values,
    )


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


def fixed_scores_sql(
    items: dict[str, str],
    *,
    sentiment: float,
    label: str,
    frustrated: bool,
    scored_at: str = "now()",
) -> str:
    """SQL that gives every item of `items` (item type -> raw table) not scored yet the same
    score, in the rows the scorer writes; `scored_at` is an SQL expression."""
    unioned = " UNION ALL ".join(
        f"SELECT '{kind}' AS item_type, source, source_id FROM {table}"
        for kind, table in items.items()
    )
    return (
        "INSERT INTO nlp.feedback_scores (item_type, item_source, item_source_id, model_version, "
        "text_hash, sentiment, label, frustrated, scored_at) "
        f"SELECT item_type, source, source_id, 'test-v1', repeat('0', 64), {sentiment}, "
        f"'{label}', {str(frustrated).lower()}, {scored_at} FROM ({unioned}) AS items "
        "ON CONFLICT DO NOTHING"
    )
