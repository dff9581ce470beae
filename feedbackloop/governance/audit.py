"""The audit trail: one append-only row per change the system makes (who, what, why; no PII)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert

from feedbackloop.db.models import AuditLog
from feedbackloop.governance.pii import MASKER_VERSION


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None = None,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Write the audit row in the caller's transaction, so it commits with the change itself."""
    conn.execute(
        insert(AuditLog).values(
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            details=details or {},
            reason=reason,
        )
    )


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
