"""Right to erasure: remove a person's data from every schema, keep an audit row without them.

The address itself was never stored; it is hashed with the same key to find the person's
contacts (and the duplicates merged into them). Their free text is replaced, their hash and
domain cleared, their derived NLP output and parked payloads removed, and their consent set to
"no" so nothing contacts them again. Ids stay: they are pseudonymous and keep counts in the marts
consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from feedbackloop.governance import audit
from feedbackloop.governance.fields import clear_caches
from feedbackloop.governance.identity import check_email, email_hash

ERASED = "<ERASED>"


@dataclass
class ErasureReport:
    contacts: list[str] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.contacts)


# (label, statement): each takes :ids (contact source ids) and :items (item keys as text[]).
_ITEM_KEYS = text(
    """
    SELECT 'ticket:zendesk:' || source_id FROM raw.tickets
        WHERE requester_source_id = ANY(:ids)
    UNION ALL
    SELECT 'satisfaction_rating:zendesk:' || source_id FROM raw.satisfaction_ratings
        WHERE requester_source_id = ANY(:ids)
    UNION ALL
    SELECT 'review:' || source || ':' || source_id FROM raw.reviews
        WHERE contact_source_id = ANY(:ids)
    UNION ALL
    SELECT 'note:' || source || ':' || source_id FROM raw.notes
        WHERE contact_source_id = ANY(:ids)
    UNION ALL
    SELECT 'survey_response:' || source || ':' || source_id FROM raw.survey_responses
        WHERE contact_source_id = ANY(:ids)
    """
)

_STEPS: tuple[tuple[str, str], ...] = (
    (
        "raw.tickets",
        f"UPDATE raw.tickets SET subject = '{ERASED}', description = '{ERASED}', "
        "loaded_at = now() WHERE requester_source_id = ANY(:ids)",
    ),
    (
        "raw.ticket_comments",
        f"UPDATE raw.ticket_comments SET body = '{ERASED}', loaded_at = now() "
        # Agent replies on their tickets quote them and greet them by name: all of it goes.
        "WHERE author_source_id = ANY(:ids) OR ticket_source_id IN "
        "(SELECT source_id FROM raw.tickets WHERE requester_source_id = ANY(:ids))",
    ),
    (
        "raw.satisfaction_ratings",
        "UPDATE raw.satisfaction_ratings SET comment = NULL, loaded_at = now() "
        "WHERE requester_source_id = ANY(:ids) AND comment IS NOT NULL",
    ),
    (
        "raw.reviews",
        f"UPDATE raw.reviews SET title = '{ERASED}', body = '{ERASED}', loaded_at = now() "
        "WHERE contact_source_id = ANY(:ids)",
    ),
    (
        "raw.notes",
        f"UPDATE raw.notes SET text = '{ERASED}', loaded_at = now() "
        "WHERE contact_source_id = ANY(:ids)",
    ),
    (
        "raw.survey_responses",
        f"UPDATE raw.survey_responses SET text = '{ERASED}', loaded_at = now() "
        "WHERE contact_source_id = ANY(:ids) AND text IS NOT NULL",
    ),
    (
        "raw.webhook_events",
        "DELETE FROM raw.webhook_events WHERE payload::text ~ ANY(:id_patterns)",
    ),
    (
        "nlp.feedback_scores",
        "DELETE FROM nlp.feedback_scores "
        "WHERE item_type || ':' || item_source || ':' || item_source_id = ANY(:items)",
    ),
    (
        "nlp.topic_assignments",
        "DELETE FROM nlp.topic_assignments "
        "WHERE item_type || ':' || item_source || ':' || item_source_id = ANY(:items)",
    ),
    (
        "ops.quarantine",
        "DELETE FROM ops.quarantine "
        "WHERE source_id = ANY(:ids) OR payload::text ~ ANY(:id_patterns)",
    ),
    (
        "ops.actions",
        "UPDATE ops.actions SET payload = '{}'::jsonb, explanation = '{\"erased\": true}'::jsonb "
        "WHERE item_type || ':' || item_source || ':' || item_source_id = ANY(:items)",
    ),
    (
        "ops.human_reviews",
        "UPDATE ops.human_reviews SET comment = NULL "
        "WHERE item_type || ':' || item_source || ':' || item_source_id = ANY(:items)",
    ),
    (
        "ops.consent",
        "UPDATE ops.consent SET granted = false, recorded_at = now(), recorded_by = :actor "
        "WHERE contact_source_id = ANY(:ids) AND granted",
    ),
    (
        "raw.contacts",
        "UPDATE raw.contacts SET email_hash = NULL, email_domain = NULL, "
        "email_invalid_reason = NULL, erased_at = now(), loaded_at = now() "
        "WHERE source_id = ANY(:ids)",
    ),
)


def find_contacts(conn: Connection, address: str, key: bytes) -> list[str]:
    """Contact ids of the person with this address, merged duplicates included."""
    check = check_email(address)
    if check.normalized is None:
        return []
    hashed = email_hash(check.normalized, key)
    return list(
        conn.execute(
            text(
                """
                WITH direct AS (
                    SELECT source_id FROM raw.contacts WHERE email_hash = :h
                )
                SELECT source_id FROM direct
                UNION
                SELECT m.contact_source_id FROM ops.contact_merges m
                WHERE m.merged_into_source_id IN (SELECT source_id FROM direct)
                UNION
                SELECT m.merged_into_source_id FROM ops.contact_merges m
                WHERE m.contact_source_id IN (SELECT source_id FROM direct)
                ORDER BY 1
                """
            ),
            {"h": hashed},
        ).scalars()
    )


def forget(conn: Connection, address: str, key: bytes, *, actor: str) -> ErasureReport:
    """Erase everything about the person with `address`, in the caller's transaction."""
    # The masking caches may hold their raw ids or address from a load in this process.
    clear_caches()
    report = ErasureReport(contacts=find_contacts(conn, address, key))
    if not report.found:
        return report
    ids = report.contacts
    items = list(conn.execute(_ITEM_KEYS, {"ids": ids}).scalars())
    params = {
        "ids": ids,
        "items": items,
        "actor": actor,
        # Whole-token matches inside JSON text: "crm-000123" must not match "crm-0001234".
        "id_patterns": [rf"\m{_regex_escape(i)}\M" for i in ids],
    }
    for label, statement in _STEPS:
        report.changed[label] = conn.execute(text(statement), params).rowcount
    audit.record(
        conn,
        actor=actor,
        action="erase",
        entity_type="contact",
        entity_id=",".join(f"crm:{i}" for i in ids),
        details={"rows_changed": report.changed, "items": len(items)},
        reason="right to erasure request",
    )
    return report


def _regex_escape(value: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() else c for c in value)
