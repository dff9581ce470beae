"""The audit trail: one append-only row per change the system makes (who, what, why; no PII).

`record` (in `feedbackloop.db.audit`) writes a row; the helpers here add governance's rows."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection

from feedbackloop.db.audit import record
from nlp.pii import MASKER_VERSION

__all__ = ["masked", "record"]


def masked(
    conn: Connection, *, actor: str, entity_type: str, entity_id: str, counts: Mapping[str, int]
) -> None:
    """The audit row for a batch whose text was masked: counts by entity type, never values."""
    if counts:
        record(
            conn,
            actor=actor,
            action="mask",
            entity_type=entity_type,
            entity_id=entity_id,
            details={"masked": dict(counts), "masker": MASKER_VERSION},
            reason="personal data replaced before storage",
        )
