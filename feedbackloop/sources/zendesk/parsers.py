"""Zendesk records -> raw rows: users, tickets, ticket events (comments and status changes) and
satisfaction ratings, as the Support API returns them, plus adapters for the webhook events'
shape (`zen:event-type:ticket.*`), so both paths map a ticket and a comment the same way.

No I/O here: users and organizations resolve through a `Directory` the caller fills. Free text
is masked with the page's `CountingMasker`; email addresses are only kept as a keyed hash. A
record that cannot be loaded raises `Invalid`, whose message is the quarantine reason (field
names only, never values).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from feedbackloop.db import models as m
from feedbackloop.governance.fields import masked_text
from feedbackloop.governance.identity import check_email, email_hash
from feedbackloop.http import SourceError
from feedbackloop.sources.base import Invalid, Page, parse_timestamp, record_id
from nlp.pii import CountingMasker, find_pii

__all__ = [
    "SOURCE",
    "Batch",
    "Directory",
    "Invalid",
    "UserRef",
    "audit_rows",
    "comment_row",
    "contact_row",
    "rating_row",
    "ticket_row",
    "webhook_comment",
    "webhook_ticket",
]

SOURCE = "zendesk"
TICKET_STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed", "deleted"})
RATING_SCORES = frozenset({"good", "bad", "offered", "unoffered"})
# Zendesk attributes automation/trigger comments to user -1.
SYSTEM_USER_IDS = frozenset({-1})
# Columns the row builders mask themselves (with counts): not scanned twice.
MASKED_TEXT = frozenset({"subject", "description", "body", "comment", "reason"})

Role = Literal["end_user", "agent", "system"]


# ----------------------------------------------------------------------------- values


def as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise Invalid(f"{name} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        return int(value)
    if value is None:
        raise Invalid(f"{name} is missing")
    raise Invalid(f"{name} is not an integer")


def opt_int(record: Mapping[str, Any], name: str) -> int | None:
    value = record.get(name)
    return None if value is None else as_int(value, name)


def _ts(record: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    value = record.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return parse_timestamp(value, name)


def _req_ts(record: Mapping[str, Any], name: str) -> datetime:
    value = _ts(record, name)
    if value is None:  # _ts raises for a missing required value; this keeps types exact
        raise Invalid(f"{name} is missing")
    return value


def _opt_str(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise Invalid(f"{name} is not a string")


def _one_of(value: Any, allowed: frozenset[str], name: str) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    if value is None:
        raise Invalid(f"{name} is missing")
    raise Invalid(f"{name} is not one of {', '.join(sorted(allowed))}")


def _language(locale: str | None) -> str | None:
    if not locale:
        return None
    return locale.replace("_", "-").split("-")[0].lower()[:16] or None


_TAG = re.compile(r"<[^>]+>")


def _html_to_text(value: str) -> str:
    return html.unescape(_TAG.sub(" ", value)).strip()


def items(body: Mapping[str, Any], key: str, endpoint: str) -> list[Any]:
    """The list under `key` of a response ([] when absent)."""
    found = body.get(key)
    if found is None:
        return []
    if not isinstance(found, list):
        raise SourceError(SOURCE, endpoint, 200, f"'{key}' in the response is not a list")
    return found


def safe_ids(records: Iterable[Any], keys: Sequence[str]) -> set[int]:
    """The valid ids under `keys` of the records (bad ones are the row builders' business)."""
    out: set[int] = set()
    for rec in records:
        if not isinstance(rec, Mapping):
            continue
        for key in keys:
            try:
                value = opt_int(rec, key)
            except Invalid:
                continue
            if value is not None:
                out.add(value)
    return out


# ------------------------------------------------------------------------- directory


@dataclass(frozen=True, slots=True)
class UserRef:
    """What the connector keeps about a Zendesk user: no name, no email."""

    crm_id: str
    role: Role
    locale: str | None = None


def _role(zendesk_role: Any) -> Role:
    return "end_user" if zendesk_role in (None, "end-user", "end_user") else "agent"


def _external_or(prefix: str, record: Mapping[str, Any], zendesk_id: int) -> str:
    external = record.get("external_id")
    if isinstance(external, (str, int)) and not isinstance(external, bool):
        text = str(external).strip()
        # Some accounts use the email address as external id: never store that as an id.
        if text and not find_pii(text):
            return text[:128]
    return f"{prefix}-{zendesk_id}"


def _with_ids(records: Iterable[Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for rec in records:
        if isinstance(rec, Mapping):
            try:
                yield as_int(rec.get("id"), "id"), rec
            except Invalid:
                continue


@dataclass
class Directory:
    """Users and organizations seen (side-loads, the users export, look-ups), to resolve
    Zendesk ids to CRM ids; an id not in it keeps a `zendesk-user-<id>` / `zendesk-org-<id>`
    name that a later sync replaces."""

    users: dict[int, UserRef] = field(default_factory=dict)
    organizations: dict[int, str] = field(default_factory=dict)

    def remember_users(self, records: Iterable[Any]) -> None:
        for uid, rec in _with_ids(records):
            locale = rec.get("locale") if isinstance(rec.get("locale"), str) else None
            self.users[uid] = UserRef(
                _external_or("zendesk-user", rec, uid), _role(rec.get("role")), locale
            )

    def remember_organizations(self, records: Iterable[Any]) -> None:
        for oid, rec in _with_ids(records):
            self.organizations[oid] = _external_or("zendesk-org", rec, oid)

    def user_crm_id(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        ref = self.users.get(user_id)
        return ref.crm_id if ref else f"zendesk-user-{user_id}"

    def org_crm_id(self, org_id: int | None) -> str | None:
        if org_id is None:
            return None
        return self.organizations.get(org_id, f"zendesk-org-{org_id}")


# ----------------------------------------------------------------------------- batches


_USER_KEEP = ("id", "external_id", "role", "organization_id", "locale", "created_at", "updated_at")


def _safe_user_payload(record: Any) -> Any:
    # Names, phones, notes and signatures are personal data mask_text does not detect.
    if isinstance(record, Mapping):
        return {k: record.get(k) for k in _USER_KEEP if k in record}
    return record


@dataclass
class Batch(Page):
    """One Zendesk page: rows per table plus the records refused."""

    masked_columns: frozenset[str] = MASKED_TEXT

    def reject(self, stream: str, record: Any, reason: str, *, user: bool = False) -> None:
        payload = _safe_user_payload(record) if user else record
        self.refuse(stream, record_id(record), reason, payload)


# ------------------------------------------------------------------------ row builders


def ticket_row(
    rec: Any,
    masker: CountingMasker,
    directory: Directory,
    *,
    product_area_field_id: int | None = None,
) -> dict[str, Any]:
    """A ticket (API shape, or a webhook's via `webhook_ticket`) -> a raw.tickets row."""
    if not isinstance(rec, Mapping):
        raise Invalid("record is not a JSON object")
    ticket_id = as_int(rec.get("id"), "id")
    updated_at = _req_ts(rec, "updated_at")
    created_at = _ts(rec, "created_at", required=False)
    status = _one_of(rec.get("status"), TICKET_STATUSES, "status")
    generated = rec.get("generated_timestamp")
    if status == "deleted" and isinstance(generated, int) and not isinstance(generated, bool):
        # Deleting need not move updated_at (only generated_timestamp): without this, "newest
        # updated_at wins" would keep the stored, undeleted version.
        updated_at = max(updated_at, datetime.fromtimestamp(generated, UTC))
    via = rec.get("via")
    channel = via.get("channel") if isinstance(via, Mapping) else None
    tags = rec.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise Invalid("tags is not a list of strings")
    priority = _opt_str(rec, "priority")
    requester_id = opt_int(rec, "requester_id")
    requester = directory.users.get(requester_id) if requester_id is not None else None
    return {
        "source": SOURCE,
        "source_id": str(ticket_id),
        "subject": masker(_opt_str(rec, "subject")),
        "description": masker(_opt_str(rec, "description")),
        "status": status,
        "priority": priority[:16] if priority else None,
        "channel": str(channel)[:32] if channel is not None else None,
        "product_area": _product_area(rec, product_area_field_id),
        "language": _language(requester.locale if requester else None),
        "requester_source_id": directory.user_crm_id(requester_id),
        "assignee_source_id": directory.user_crm_id(opt_int(rec, "assignee_id")),
        "account_source_id": directory.org_crm_id(opt_int(rec, "organization_id")),
        # Tags repeat across tickets: in a sync run each distinct tag is scanned once.
        "tags": [masked_text(t).text for t in tags],
        "is_deleted": status == "deleted",
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _product_area(rec: Mapping[str, Any], field_id: int | None) -> str | None:
    if field_id is None:
        return None
    for item in rec.get("custom_fields") or []:
        if isinstance(item, Mapping) and item.get("id") == field_id:
            value = item.get("value")
            return masked_text(str(value)).text[:64] if value not in (None, "") else None
    return None


def contact_row(
    directory: Directory,
    rec: Any,
    hash_key: bytes,
    deliverability: bool,
    dns_timeout: float,
) -> dict[str, Any] | None:
    """An end user -> a raw.contacts row (None for agents and admins)."""
    if not isinstance(rec, Mapping):
        raise Invalid("record is not a JSON object")
    user_id = as_int(rec.get("id"), "id")
    updated_at = _req_ts(rec, "updated_at")
    created_at = _ts(rec, "created_at", required=False)
    if _role(rec.get("role")) != "end_user":
        return None  # agents and admins are staff, not customer contacts
    address = _opt_str(rec, "email")
    check = check_email(address, deliverability=deliverability, timeout=dns_timeout)
    return {
        "source": SOURCE,
        "source_id": _external_or("zendesk-user", rec, user_id),
        "email_hash": email_hash(check.normalized, hash_key) if check.normalized else None,
        "email_domain": check.domain,
        "email_valid": check.valid,
        "email_invalid_reason": check.reason,
        "account_source_id": directory.org_crm_id(opt_int(rec, "organization_id")),
        "language": _language(_opt_str(rec, "locale")),
        "created_at": created_at,
        "updated_at": updated_at,
    }


def event_kind(child: Mapping[str, Any]) -> Any:
    return child.get("event_type") or child.get("type")


def _status_of(child: Mapping[str, Any]) -> tuple[bool, Any]:
    """(is a status event, new status). Audit-style events name the field (`field_name`,
    `value`); the incremental export's child events carry it as a `status` key."""
    if child.get("field_name") == "status":
        return True, child.get("value")
    if "status" in child and "field_name" not in child:
        return True, child.get("status")
    return False, None


def audit_rows(directory: Directory, event: Any, batch: Batch) -> None:
    """A ticket audit's child events -> comment and status-change rows of `batch`."""
    if not isinstance(event, Mapping):
        batch.reject("ticket_events", event, "record is not a JSON object")
        return
    children = event.get("child_events") or []
    try:
        ticket_id = as_int(event.get("ticket_id"), "ticket_id")
        when = _ts(event, "created_at", required=False) or _req_ts(event, "timestamp")
        if not isinstance(children, list):
            raise Invalid("child_events is not a list")
    except Invalid as exc:
        batch.reject("ticket_events", event, str(exc))
        return
    for child in children:
        if not isinstance(child, Mapping):
            batch.reject("ticket_events", child, "child event is not a JSON object")
            continue
        kind = event_kind(child)
        if kind == "Comment":
            try:
                batch.add(
                    m.TicketComment, comment_row(directory, ticket_id, when, child, batch.masker)
                )
            except Invalid as exc:
                batch.reject("ticket_comments", child, str(exc))
        elif kind in ("Create", "Change"):
            is_status, value = _status_of(child)
            if not is_status:
                continue
            try:
                batch.add(m.TicketStatusChange, _status_row(ticket_id, when, child, value))
            except Invalid as exc:
                batch.reject("ticket_status_changes", child, str(exc))


def comment_row(
    directory: Directory,
    ticket_id: int,
    audit_time: datetime | None,
    child: Mapping[str, Any],
    masker: CountingMasker,
) -> dict[str, Any]:
    """A `Comment` child event (or a webhook's via `webhook_comment`) -> a raw.ticket_comments
    row; the author's role comes from the directory."""
    comment_id = as_int(child.get("id"), "id")
    created_at = _ts(child, "created_at", required=False) or audit_time
    if created_at is None:
        raise Invalid("created_at is missing")
    body = _opt_str(child, "body")
    if body is None:
        body = _opt_str(child, "plain_body")
    if body is None:
        html_body = _opt_str(child, "html_body")
        body = _html_to_text(html_body) if html_body is not None else None
    if body is None:
        raise Invalid("body is missing")
    public = child.get("public", True)
    if not isinstance(public, bool):
        raise Invalid("public is not a boolean")
    author_id = opt_int(child, "author_id")
    role: Role
    if author_id is None or author_id in SYSTEM_USER_IDS:
        role, author = "system", None
    else:
        ref = directory.users.get(author_id)
        # Unknown authors (deleted users, no look-up endpoint) are most often requesters.
        role = ref.role if ref else "end_user"
        author = directory.user_crm_id(author_id)
    return {
        "source": SOURCE,
        "source_id": str(comment_id),
        "ticket_source_id": str(ticket_id),
        "author_source_id": author,
        "author_role": role,
        "is_public": public,
        "body": masker(body),
        "created_at": created_at,
        # Comments are immutable in Zendesk: the creation time is the version.
        "updated_at": created_at,
    }


def _status_row(
    ticket_id: int, audit_time: datetime | None, child: Mapping[str, Any], value: Any
) -> dict[str, Any]:
    event_id = as_int(child.get("id"), "id")
    status = _one_of(value, TICKET_STATUSES, "status")
    previous = child.get("previous_value")
    if previous is not None:
        previous = _one_of(previous, TICKET_STATUSES, "previous_value")
    created_at = _ts(child, "created_at", required=False) or audit_time
    if created_at is None:
        raise Invalid("created_at is missing")
    return {
        "source": SOURCE,
        "source_id": str(event_id),
        "ticket_source_id": str(ticket_id),
        "previous_status": previous,
        "status": status,
        "created_at": created_at,
        "updated_at": created_at,
    }


def rating_row(directory: Directory, rec: Any, masker: CountingMasker) -> dict[str, Any]:
    """A satisfaction rating -> a raw.satisfaction_ratings row."""
    if not isinstance(rec, Mapping):
        raise Invalid("record is not a JSON object")
    rating_id = as_int(rec.get("id"), "id")
    ticket_id = as_int(rec.get("ticket_id"), "ticket_id")
    updated_at = _req_ts(rec, "updated_at")
    return {
        "source": SOURCE,
        "source_id": str(rating_id),
        "ticket_source_id": str(ticket_id),
        "requester_source_id": directory.user_crm_id(opt_int(rec, "requester_id")),
        "score": _one_of(rec.get("score"), RATING_SCORES, "score"),
        "comment": masker(_opt_str(rec, "comment")),
        "reason": masker(_opt_str(rec, "reason")),
        "created_at": _ts(rec, "created_at", required=False),
        "updated_at": updated_at,
    }


# ---------------------------------------------------------------------------- webhooks

# What a webhook's ticket carries that `ticket_row` reads. Organization and custom fields are
# left out: the connector's CRM ids and product area are kept from the stored row instead.
_WEBHOOK_TICKET = (
    "id", "subject", "description", "status", "priority", "requester_id", "assignee_id",
    "tags", "via", "created_at", "updated_at",
)  # fmt: skip


def _scalar(value: Any) -> Any:
    # Events send ids as strings and examples as numbers; a number where text belongs is text.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def webhook_ticket(detail: Mapping[str, Any], event_time: datetime) -> dict[str, Any]:
    """A webhook event's `detail` as the API's ticket: statuses and priorities come upper-case
    (`OPEN`), a missing `updated_at` is the event's time, a missing `created_at` that."""
    ticket = {k: detail[k] for k in _WEBHOOK_TICKET if k in detail}
    for key in ("subject", "description"):
        ticket[key] = _scalar(ticket.get(key))
    for key in ("status", "priority"):
        value = _scalar(ticket.get(key))
        ticket[key] = value.lower() if isinstance(value, str) else value
    if isinstance(ticket.get("tags"), list):
        ticket["tags"] = [_scalar(t) for t in ticket["tags"]]
    ticket["updated_at"] = ticket.get("updated_at") or event_time.isoformat()
    ticket["created_at"] = ticket.get("created_at") or ticket["updated_at"]
    return ticket


def webhook_comment(
    comment: Mapping[str, Any], event_time: datetime, directory: Directory
) -> dict[str, Any]:
    """A `ticket.comment_added` event's `comment` as the API's `Comment` child event; its
    author goes into `directory` (an agent when `is_staff`)."""
    author = comment.get("author")
    author_id = author.get("id") if isinstance(author, Mapping) else None
    if author_id is not None:
        staff = isinstance(author, Mapping) and author.get("is_staff") is True
        directory.remember_users([{"id": author_id, "role": "agent" if staff else "end-user"}])
    return {
        "id": comment.get("id"),
        "body": _scalar(comment.get("body")),
        "public": comment.get("is_public", True),
        "author_id": author_id,
        # A comment never changes after it is added: the event's time is its version.
        "created_at": event_time.isoformat(),
    }
