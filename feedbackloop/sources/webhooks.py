"""Drain stored webhook deliveries into raw rows (the step a Prefect flow calls).

Zendesk event-subscription payloads ("Webhook event types" in Zendesk's reference) share one
envelope::

    {"type": "zen:event-type:ticket.comment_added", "id": "<event id>", "time": "<ISO 8601>",
     "subject": "zen:ticket:5158", "account_id": 22129848, "zendesk_event_version": "...",
     "detail": {<the ticket: id, subject, description, status, priority, requester_id,
                 assignee_id, tags, via.channel, created_at, updated_at, ...>},
     "event": {<what changed; for comment_added: {"comment": {"id", "body", "is_public",
               "author": {"id", "is_staff", "name"}}}>}}

Every `zen:event-type:ticket.*` event carries the ticket in `detail`, so each one upserts
`raw.tickets` (newest `updated_at` wins, so late or repeated events change nothing);
`ticket.comment_added` also upserts `raw.ticket_comments`. The rows are the API connector's
(`sources.zendesk.parsers.ticket_row` / `comment_row`, after adapting the event's shape), so
both paths validate, mask and name users alike. Anything else (other event types,
trigger webhooks with a custom body, other sources) is quarantined with the reason and marked
processed, so the queue never jams on a delivery nobody can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text, update

from feedbackloop.db.models import Ticket, TicketComment, WebhookEvent
from feedbackloop.db.upsert import quarantine, upsert_rows
from feedbackloop.sources.base import Invalid, newest_per_id, parse_timestamp
from feedbackloop.sources.zendesk.parsers import SOURCE as ZENDESK
from feedbackloop.sources.zendesk.parsers import (
    Directory,
    comment_row,
    ticket_row,
    webhook_comment,
    webhook_ticket,
)
from nlp.pii import CountingMasker, mask_value

__all__ = ["process_webhook_events"]

STREAM = "webhook_events"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
ACTOR = "feedbackloop webhooks"

# What a webhook's ticket does not carry, or carries as Zendesk ids where the connector
# stores CRM ids: kept from the stored row, so an event never unlinks a ticket from its
# customer, account, product area or language.
_KEPT = (
    "requester_source_id",
    "assignee_source_id",
    "account_source_id",
    "product_area",
    "language",
)


def _keep_known(conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    stored = {
        r.source_id: r
        for r in conn.execute(
            text(
                "SELECT source_id, requester_source_id, assignee_source_id, account_source_id, "
                "product_area, language, channel FROM raw.tickets "
                "WHERE source = :s AND source_id = ANY(:ids)"
            ),
            {"s": ZENDESK, "ids": [r["source_id"] for r in rows]},
        )
    }
    for row in rows:
        # A ticket the connector has not seen keeps the connector's names for unknown users.
        known = stored.get(row["source_id"])
        if known is None:
            continue
        for column in _KEPT:
            row[column] = getattr(known, column)
        row["channel"] = row["channel"] or known.channel
    return rows


def _event_time(payload: Mapping[str, Any], received: datetime | None) -> datetime:
    value = payload.get("time")
    if value is None:
        return received or datetime.now(UTC)
    return parse_timestamp(value, "time")


def _object(parent: Any, name: str) -> Mapping[str, Any]:
    value = parent.get(name) if isinstance(parent, Mapping) else None
    if not isinstance(value, Mapping):
        raise Invalid(f"{name} is missing" if value is None else f"{name} is not a JSON object")
    return value


def _rows_for(
    event: Any, masker: CountingMasker
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """(ticket row, comment row, None) or (None, None, why it cannot be turned into rows).
    The rows are the API connector's (`sources.zendesk.parsers`), from the event's shape."""
    if event.source != ZENDESK:
        return None, None, f"no mapping for webhook source {event.source!r}"
    event_type = event.event_type or ""
    if not event_type.startswith(TICKET_EVENT_PREFIX):
        return None, None, f"unsupported event type {event_type or '(none)'!r}"
    invalid = f"invalid {event_type} payload: "
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    try:
        when = _event_time(payload, event.updated_at)
        detail = _object(payload, "detail")
    except Invalid as exc:
        return None, None, f"{invalid}{exc}"
    directory = Directory()
    try:
        ticket = ticket_row(webhook_ticket(detail, when), masker, directory)
    except Invalid as exc:
        return None, None, f"{invalid}detail.{exc}"
    if event_type != COMMENT_ADDED:
        return ticket, None, None
    try:
        found = _object(payload.get("event"), "comment")
    except Invalid as exc:
        return None, None, f"{invalid}event.{exc}"
    try:
        child = webhook_comment(found, when, directory)
        comment = comment_row(directory, int(ticket["source_id"]), when, child, masker)
    except Invalid as exc:
        return None, None, f"{invalid}event.comment.{exc}"
    return ticket, comment, None


def process_webhook_events(engine: Engine, *, limit: int = 1000) -> int:
    """Turn up to `limit` unprocessed deliveries into raw rows; returns how many were processed.

    One transaction: rows locked with SKIP LOCKED (parallel drains take disjoint events), raw
    rows upserted, unusable events quarantined, all of them marked processed, then commit.
    """
    table = WebhookEvent.__table__
    with engine.begin() as conn:
        events = conn.execute(
            select(
                table.c.id,
                table.c.source,
                table.c.source_id,
                table.c.event_type,
                table.c.payload,
                table.c.updated_at,
            )
            .where(table.c.processed_at.is_(None))
            .order_by(table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not events:
            return 0
        tickets: list[dict[str, Any]] = []
        comments: list[dict[str, Any]] = []
        masker = CountingMasker()
        for event in events:
            ticket, comment, reason = _rows_for(event, masker)
            if reason is not None:
                quarantine(
                    conn,
                    source=event.source,
                    stream=STREAM,
                    source_id=event.source_id,
                    reason=reason,
                    payload=event.payload,
                    mask_payload=mask_value,
                    actor=ACTOR,
                )
                continue
            if ticket is not None:
                tickets.append(ticket)
            if comment is not None:
                comments.append(comment)
        # Tickets before comments: comments name their ticket.
        upsert_rows(
            conn,
            Ticket,
            _keep_known(conn, newest_per_id(tickets)),
            source=ZENDESK,
            stream="tickets",
            mask_payload=mask_value,
            actor=ACTOR,
        )
        upsert_rows(
            conn,
            TicketComment,
            newest_per_id(comments),
            source=ZENDESK,
            stream="ticket_comments",
            mask_payload=mask_value,
            actor=ACTOR,
        )
        conn.execute(
            update(table)
            .where(table.c.id.in_([e.id for e in events]))
            .values(processed_at=func.now())
        )
    return len(events)
