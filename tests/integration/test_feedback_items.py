"""The feedback-item contract (ops.feedback_items, ops.contact_consent; feedbackloop.items): which
rows are items, the text the gate checks is the text that is scored, and consent resolved once
for every reader."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from feedbackloop import items

RAW = """
    INSERT INTO raw.tickets (source, source_id, updated_at, status, subject, description,
                             requester_source_id, is_deleted)
    VALUES ('zendesk', 't1', now(), 'open', 'Login fails', 'Since the update', 'c1', false),
           ('zendesk', 't2', now(), 'open', NULL, 'No subject here', 'c2', false),
           ('zendesk', 't3', now(), 'deleted', 'Gone', 'Deleted in Zendesk', 'c1', true);
    INSERT INTO raw.satisfaction_ratings (source, source_id, updated_at, ticket_source_id,
                                          requester_source_id, score, comment)
    VALUES ('zendesk', 'r1', now(), 't1', 'c1', 'bad', 'Slow answer'),
           ('zendesk', 'r2', now(), 't2', 'c2', 'good', NULL),
           ('zendesk', 'r3', now(), 't2', 'c2', 'offered', NULL);
    INSERT INTO raw.reviews (source, source_id, updated_at, rating, title, body)
    VALUES ('app_store', 'v1', now(), 2, NULL, 'Crashes on start');
    INSERT INTO raw.notes (source, source_id, updated_at, department, kind, text,
                           contact_source_id)
    VALUES ('drops', 'n1', now(), 'sales', 'call', 'Wants SSO', 'c2');
    INSERT INTO raw.contacts (source, source_id, updated_at)
    VALUES ('crm', 'c1', now()), ('crm', 'c2', now()), ('zendesk', 'c2', now());
"""


def _load(conn: Connection) -> None:
    for statement in RAW.split(";"):
        if statement.strip():
            conn.execute(text(statement))


def _items(engine: Engine) -> dict[items.ItemKey, tuple[str | None, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT item_type, item_source, item_source_id, text, has_text FROM {items.ITEMS}"
            )
        )
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def test_items_are_live_tickets_answered_ratings_reviews_and_notes(engine: Engine) -> None:
    with engine.begin() as conn:
        _load(conn)
    found = _items(engine)
    assert sorted(found) == [
        ("note", "drops", "n1"),
        ("review", "app_store", "v1"),
        ("satisfaction_rating", "zendesk", "r1"),
        ("satisfaction_rating", "zendesk", "r2"),
        ("ticket", "zendesk", "t1"),
        ("ticket", "zendesk", "t2"),
    ]
    # An answered rating without a comment is an item (the marts count it) without text
    # (nothing to score or cluster).
    assert found[("satisfaction_rating", "zendesk", "r2")] == (None, False)
    assert found[("ticket", "zendesk", "t1")] == ("Login fails\nSince the update", True)


def test_the_gate_checks_the_text_that_is_scored(engine: Engine) -> None:
    with engine.begin() as conn:
        _load(conn)
    found = _items(engine)
    checked = 0
    with engine.connect() as conn:
        for table, (row_type, _) in items.TEXT_COLUMNS.items():
            if row_type not in items.ITEM_TYPES:
                continue  # ticket comments are checked by the gate but are not items
            for row in conn.execute(text(f"SELECT * FROM raw.{table}")).mappings():
                key = (row_type, row["source"], row["source_id"])
                if key in found:
                    view_text, _ = found[key]
                    assert (view_text or None) == items.text_of(table)(row), key
                    checked += 1
    assert checked == len(found)


def test_consent_is_resolved_once_for_topics_and_marts(engine: Engine) -> None:
    """The most restrictive decision across merged contacts; no record is a no."""
    with engine.begin() as conn:
        _load(conn)
        conn.execute(
            text(
                "INSERT INTO ops.consent (contact_source, contact_source_id, purpose, granted, "
                "recorded_by) VALUES ('crm', 'c1', 'improvement', true, 'test'), "
                "('crm', 'c2', 'improvement', true, 'test')"
            )
        )
    with engine.connect() as conn:
        both = items.consented_keys(conn, public_reviews=False)
    # ratings are not clustered; the review has no contact and reviews are not public here
    assert sorted(both) == [
        ("note", "drops", "n1"),
        ("ticket", "zendesk", "t1"),
        ("ticket", "zendesk", "t2"),
    ]

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.contact_merges (contact_source, contact_source_id, "
                "merged_into_source_id, rule, merged_by) "
                "VALUES ('crm', 'c2', 'c1', 'same_email_hash', 'test')"
            )
        )
        conn.execute(
            text(
                "UPDATE ops.consent SET granted = false WHERE contact_source_id = 'c2' "
                "AND purpose = 'improvement'"
            )
        )
    with engine.connect() as conn:
        consent = {
            r.contact_id: (r.canonical_contact_id, r.consent_improvement)
            for r in conn.execute(text(f"SELECT * FROM {items.CONSENT}"))
        }
        after = items.consented_keys(conn, public_reviews=True)
    # c2's "no" wins for c1 too, now that both are one person
    assert consent == {"c1": ("c1", False), "c2": ("c1", False)}
    assert sorted(after) == [("review", "app_store", "v1")]
