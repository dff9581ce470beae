"""The audit-row writer: one append-only row per change the system makes (who, what, why; no
PII), written in the caller's transaction. Here, beside the models, so that the loader
(`db.upsert`) can audit what it quarantines without reaching up into governance."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from feedbackloop.db.models import AuditLog


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
