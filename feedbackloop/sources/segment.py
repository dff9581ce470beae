"""Segment product events: each `track` and `identify` call validated, masked and stored.

The webhook (`feedbackloop.web.segment`) hands a verified body here. Segment's shapes (the
Spec's common fields, `track`, `identify`, and the HTTP Tracking API's batch)::

    {"type": "track", "messageId": "...", "userId": "...", "anonymousId": "...",
     "event": "Report Created", "properties": {...}, "context": {"groupId": "...",
     "traits": {...}}, "timestamp": "<ISO 8601>", ...}
    {"type": "identify", "messageId": "...", "userId": "...", "traits": {"email": "...", ...}}
    {"batch": [<call>, <call>, ...], ...}

Stored per call in `raw.segment_events`, unique on `messageId`: a replayed call is stored once.
A call that cannot be used (another call type, no messageId, no user, a `track` without an
event name, properties that are not an object, a bad timestamp) is quarantined with the
reason, and the rest of its batch is stored. Stored and quarantined calls commit in one
transaction before the webhook answers.

Personal data: ids (`messageId`, `userId`, `anonymousId`, the account) are stored as they are
unless they hold personal data, then as their keyed hash (`governance.fields.keyed_id`, as
every source stores ids); property and trait values run through the masker; an `email` trait
is stored only as the keyed hash `raw.contacts.email_hash` holds, so a user can be matched to
a contact (and so to their consent) without the address. The account is `context.groupId`,
else an `account_id` property or trait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from feedbackloop.db.models import SegmentEvent
from feedbackloop.db.upsert import insert_new, quarantine, storable
from feedbackloop.governance.fields import keyed_id, mask_fields, mask_json
from feedbackloop.governance.identity import email_hash, normalize_email
from feedbackloop.sources.base import Invalid, parse_timestamp

__all__ = ["CALL_TYPES", "SOURCE", "STREAM", "Intake", "calls_of", "event_row", "store_calls"]

SOURCE = "segment"
STREAM = "segment_events"
CALL_TYPES = ("track", "identify")
MAX_ID_CHARS = 128
MAX_EVENT_CHARS = 200
# Segment's timestamp fields, most meaningful first: when it happened on the client (corrected
# for clock skew), as the client said it, as sent, as Segment received it.
_TIMES = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
_ACCOUNT_KEYS = ("account_id", "accountId")
ACTOR = "feedbackloop web (segment)"


@dataclass
class Intake:
    """What one delivery did: every call is stored, a duplicate or quarantined."""

    received: int = 0
    stored: int = 0
    duplicate: int = 0
    quarantined: int = 0
    reasons: list[str] = field(default_factory=list)

    def reconciles(self) -> bool:
        return self.received == self.stored + self.duplicate + self.quarantined


def calls_of(payload: Mapping[str, Any]) -> list[Any]:
    """The calls of a body: a batch's items, or the body itself."""
    batch = payload.get("batch")
    if batch is None:
        return [payload]
    if not isinstance(batch, list):
        raise Invalid("batch is not a list")
    return batch


def _id(value: Any, name: str, key: bytes) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(f"{name} is not a string")
    stored = keyed_id(str(value).strip(), key)
    if len(stored) > MAX_ID_CHARS:
        raise Invalid(f"{name} is longer than {MAX_ID_CHARS} characters")
    return stored or None


def _object(call: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = call.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Invalid(f"{name} is not an object")
    return value


def _when(call: Mapping[str, Any], received: datetime) -> datetime:
    for name in _TIMES:
        if call.get(name) is not None:
            return parse_timestamp(call[name], name)
    return received


def _email_hash(traits: Mapping[str, Any], key: bytes) -> str | None:
    value = traits.get("email")
    if not isinstance(value, str) or "@" not in value:
        return None
    return email_hash(normalize_email(value), key)


def event_row(call: Any, key: bytes, received: datetime) -> dict[str, Any]:
    """The `raw.segment_events` row of one call, masked; `Invalid` says why there is none."""
    if not isinstance(call, Mapping):
        raise Invalid("call is not a JSON object")
    call_type = call.get("type")
    if call_type is None:
        raise Invalid("type is missing")
    if call_type not in CALL_TYPES:
        # Named only when it looks like a call type: the value is the sender's text.
        known = isinstance(call_type, str) and call_type.isalpha() and len(call_type) < 20
        shown = call_type if known else "?"
        raise Invalid(f"unsupported call type {shown!r} (track and identify are read)")
    message_id = _id(call.get("messageId"), "messageId", key)
    if message_id is None:
        raise Invalid("messageId is missing")
    user_id = _id(call.get("userId"), "userId", key)
    anonymous_id = _id(call.get("anonymousId"), "anonymousId", key)
    if user_id is None and anonymous_id is None:
        raise Invalid("neither userId nor anonymousId is given")
    context = _object(call, "context")
    properties = _object(call, "properties") if call_type == "track" else {}
    # identify carries traits; a track call may repeat them in its context.
    traits = _object(call, "traits") if call_type == "identify" else _object(context, "traits")
    event = call.get("event") if call_type == "track" else None
    if call_type == "track":
        if not isinstance(event, str) or not event.strip():
            raise Invalid("track call without an event name")
        if len(event) > MAX_EVENT_CHARS:
            raise Invalid(f"event name longer than {MAX_EVENT_CHARS} characters")
    account = context.get("groupId")
    for source in (properties, traits):
        for name in _ACCOUNT_KEYS:
            if account in (None, "") and source.get(name) not in (None, ""):
                account = source.get(name)
    account_id = _id(account, "account", key)
    occurred_at = _when(call, received)
    row = mask_fields({"event": event.strip() if event else None}, key=key)
    return {
        "source": SOURCE,
        "message_id": message_id,
        "call_type": call_type,
        "event": storable(row["event"]),
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "account_id": account_id,
        "email_hash": _email_hash(traits, key),
        # The address itself is never stored: its hash is above.
        "properties": storable(mask_json(dict(properties), key)),
        "traits": storable(mask_json({k: v for k, v in traits.items() if k != "email"}, key)),
        "occurred_at": occurred_at,
    }


def _excerpt(call: Any, key: bytes) -> Any:
    """What a quarantined call keeps: masked, with ids hashed when they hold PII."""
    return mask_json(call, key)


def store_calls(
    conn: Connection, calls: Sequence[Any], *, key: bytes, received: datetime
) -> Intake:
    """Store each call (once per messageId) or quarantine it with the reason, in `conn`'s
    transaction."""
    intake = Intake(received=len(calls))
    rows: list[dict[str, Any]] = []
    for n, call in enumerate(calls):
        try:
            rows.append(event_row(call, key, received))
        except Invalid as exc:
            reason = f"segment call {n + 1} of {len(calls)}: {exc}"
            message = call.get("messageId") if isinstance(call, Mapping) else None
            source_id = keyed_id(str(message), key)[:MAX_ID_CHARS] if message else None
            quarantine(
                conn,
                source=SOURCE,
                stream=STREAM,
                source_id=source_id,
                reason=reason,
                payload=_excerpt(call, key),
                actor=ACTOR,
            )
            intake.quarantined += 1
            intake.reasons.append(str(exc))
    if rows:
        inserted = insert_new(conn, SegmentEvent, rows, constraint="uq_segment_events_message_id")
        intake.stored = len(inserted)
        intake.duplicate = len(rows) - intake.stored
    return intake
