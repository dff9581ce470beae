"""Rows for the GX gate tests: a raw ticket as a connector hands it over, and its text."""

from __future__ import annotations

from datetime import datetime, timedelta


def ticket_row(source_id: str, body: str | None, now: datetime, **extra: object) -> dict:
    """A Zendesk ticket created two days and updated one day before `now`; `extra` overrides."""
    row = {
        "source": "zendesk",
        "source_id": source_id,
        "subject": "Help",
        "description": body,
        "created_at": now - timedelta(days=2),
        "updated_at": now - timedelta(days=1),
    }
    return row | extra


def feedback_text(row: dict) -> str | None:
    return row.get("description")
