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
`ticket.comment_added` also upserts `raw.ticket_comments`. Anything else (other event types,
trigger webhooks with a custom body, other sources) is quarantined with the reason and marked
processed, so the queue never jams on a delivery nobody can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, func, select, text, update

from feedbackloop.db.models import Ticket, TicketComment, WebhookEvent
from feedbackloop.db.upsert import quarantine, upsert_rows
from feedbackloop.governance.pii import mask, mask_value

__all__ = ["process_webhook_events"]

ZENDESK = "zendesk"
STREAM = "webhook_events"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
TICKET_STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed", "deleted"})
ACTOR = "feedbackloop webhooks"


class _Loose(BaseModel):
    # Zendesk sends ids as strings in events and as numbers in examples: accept both.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _Via(_Loose):
    channel: str | None = None


class _TicketDetail(_Loose):
    id: str = Field(min_length=1, max_length=128)
    status: str
    subject: str | None = None
    description: str | None = None
    priority: str | None = None
    requester_id: str | None = None
    assignee_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    via: _Via | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        status = value.lower()
        if status not in TICKET_STATUSES:
            raise ValueError(f"ticket status {value!r} is not one of {sorted(TICKET_STATUSES)}")
        return status

    @field_validator("priority")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else None


class _Author(_Loose):
    id: str | None = None
    is_staff: bool = False


class _Comment(_Loose):
    id: str = Field(min_length=1, max_length=128)
    body: str
    is_public: bool = True
    author: _Author | None = None


class _CommentEvent(_Loose):
    comment: _Comment


class _Envelope(_Loose):
    type: str
    time: datetime | None = None
    detail: _TicketDetail
    event: dict[str, Any] = Field(default_factory=dict)


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
        known = stored.get(row["source_id"])
        if known is None:
            # A ticket the connector has not seen yet: the connector's names for unknown users.
            for column in ("requester_source_id", "assignee_source_id"):
                if row[column] is not None:
                    row[column] = f"zendesk-user-{row[column]}"
            continue
        for column in _KEPT:
            row[column] = getattr(known, column)
        row["channel"] = row["channel"] or known.channel
    return rows


def _ticket_row(detail: _TicketDetail, event_time: datetime) -> dict[str, Any]:
    updated_at = detail.updated_at or event_time
    return {
        "source": ZENDESK,
        "source_id": detail.id,
        "subject": mask(detail.subject) if detail.subject is not None else None,
        "description": mask(detail.description) if detail.description is not None else None,
        "status": detail.status,
        "priority": detail.priority,
        "channel": detail.via.channel if detail.via else None,
        "product_area": None,
        "language": None,
        # Zendesk user ids; `_keep_known` maps them the way the connector does.
        "requester_source_id": detail.requester_id,
        "assignee_source_id": detail.assignee_id,
        "account_source_id": None,
        "tags": list(detail.tags),
        "is_deleted": detail.status == "deleted",
        "created_at": detail.created_at or updated_at,
        "updated_at": updated_at,
    }


def _comment_row(ticket_id: str, comment: _Comment, event_time: datetime) -> dict[str, Any]:
    author = comment.author
    return {
        "source": ZENDESK,
        "source_id": comment.id,
        "ticket_source_id": ticket_id,
        "author_source_id": author.id if author else None,
        "author_role": "agent" if author and author.is_staff else "end_user",
        "is_public": comment.is_public,
        "body": mask(comment.body),
        # A comment never changes after it is added: its time is its version.
        "created_at": event_time,
        "updated_at": event_time,
    }


def _reason(exc: ValidationError) -> str:
    # Field paths and messages only: pydantic's default text quotes the input values.
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    ]
    return "; ".join(parts)[:500]


def _rows_for(
    event: Any,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """(ticket row, comment row, None) or (None, None, why it cannot be turned into rows)."""
    if event.source != ZENDESK:
        return None, None, f"no mapping for webhook source {event.source!r}"
    event_type = event.event_type or ""
    if not event_type.startswith(TICKET_EVENT_PREFIX):
        return None, None, f"unsupported event type {event_type or '(none)'!r}"
    try:
        envelope = _Envelope.model_validate(event.payload)
        comment = (
            _CommentEvent.model_validate(envelope.event).comment
            if event_type == COMMENT_ADDED
            else None
        )
    except ValidationError as exc:
        return None, None, f"invalid {event_type} payload: {_reason(exc)}"
    event_time = envelope.time or event.updated_at or datetime.now(UTC)
    ticket = _ticket_row(envelope.detail, event_time)
    row = _comment_row(envelope.detail.id, comment, event_time) if comment else None
    return ticket, row, None


def _newest_per_key(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    # One INSERT ... ON CONFLICT cannot touch a row twice; keep the newest version per key.
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = newest.get(row["source_id"])
        if kept is None or row["updated_at"] > kept["updated_at"]:
            newest[row["source_id"]] = row
    return list(newest.values())


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
        for event in events:
            ticket, comment, reason = _rows_for(event)
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
            _keep_known(conn, _newest_per_key(tickets)),
            source=ZENDESK,
            stream="tickets",
            mask_payload=mask_value,
            actor=ACTOR,
        )
        upsert_rows(
            conn,
            TicketComment,
            _newest_per_key(comments),
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
