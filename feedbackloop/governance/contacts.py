"""One person, one contact: duplicates by normalized email fold into a canonical contact, and
consent is recorded per contact and purpose. Every change writes an audit row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from feedbackloop.db.models import Consent, ContactMerge
from feedbackloop.db.upsert import overwrite
from feedbackloop.governance import audit

MERGE_RULE = "same_email_hash"

# Canonical = the oldest contact with that address (then the smallest id): stable across runs,
# so a merge made yesterday never flips to a different survivor today.
_DUPLICATES = text(
    """
    WITH ranked AS (
        SELECT source, source_id,
               first_value(source_id) OVER (
                   PARTITION BY source, email_hash ORDER BY created_at NULLS LAST, source_id
               ) AS canonical
        FROM raw.contacts
        WHERE email_hash IS NOT NULL AND erased_at IS NULL
    )
    SELECT r.source, r.source_id, r.canonical
    FROM ranked r
    WHERE r.source_id <> r.canonical
      AND NOT EXISTS (
          SELECT 1 FROM ops.contact_merges m
          WHERE m.contact_source = r.source AND m.contact_source_id = r.source_id
      )
    ORDER BY r.source, r.source_id
    """
)


@dataclass(frozen=True)
class Merge:
    source: str
    source_id: str
    merged_into: str


def merge_duplicate_contacts(conn: Connection, *, actor: str) -> list[Merge]:
    """Record a merge for every not-yet-merged duplicate; idempotent."""
    merges = [Merge(*row) for row in conn.execute(_DUPLICATES)]
    for merge in merges:
        conn.execute(
            pg_insert(ContactMerge)
            .values(
                contact_source=merge.source,
                contact_source_id=merge.source_id,
                merged_into_source_id=merge.merged_into,
                rule=MERGE_RULE,
                merged_by=actor,
            )
            .on_conflict_do_nothing()
        )
        audit.record(
            conn,
            actor=actor,
            action="merge",
            entity_type="contact",
            entity_id=f"{merge.source}:{merge.source_id}",
            details={"merged_into": f"{merge.source}:{merge.merged_into}", "rule": MERGE_RULE},
            reason="duplicate contact: same normalized email address",
        )
    return merges


def record_consent(
    conn: Connection, rows: Iterable[Mapping[str, Any]], *, actor: str, reason: str
) -> int:
    """Upsert consent rows (`contact_source`, `contact_source_id`, `purpose`, `granted`);
    audit each new or changed decision. Returns how many changed."""
    rows = list(rows)
    if not rows:
        return 0
    changed = conn.execute(
        overwrite(
            Consent,
            ("contact_source", "contact_source_id", "purpose"),
            ("granted", "recorded_by", "recorded_at"),
            where=lambda excluded: Consent.granted != excluded.granted,
        ).returning(
            Consent.contact_source, Consent.contact_source_id, Consent.purpose, Consent.granted
        ),
        [{**row, "recorded_by": actor} for row in rows],
    ).all()
    for source, source_id, purpose, granted in changed:
        audit.record(
            conn,
            actor=actor,
            action="consent_change",
            entity_type="contact",
            entity_id=f"{source}:{source_id}",
            details={"purpose": purpose, "granted": granted},
            reason=reason,
        )
    return len(changed)
