"""Zendesk Support connector: users, tickets, ticket events (comments and status changes) and
satisfaction ratings into `raw`, incrementally and exactly once.

Endpoints (Zendesk Support API, documented shapes):

- `GET /api/v2/incremental/users/cursor.json` and `.../tickets/cursor.json`: cursor-based
  incremental exports (`start_time` first, then `cursor`; `after_cursor`, `end_of_stream`).
  Tickets side-load `users` and `organizations` so requesters and accounts resolve to CRM ids.
- `GET /api/v2/incremental/ticket_events.json?include=comment_events`: time-based export
  (`start_time`; `end_time`, `next_page`, `end_of_stream`). Audits carry `child_events`:
  `Comment` events become comments, status `Create`/`Change` events become status changes.
- `GET /api/v2/satisfaction_ratings.json`: `start_time` + cursor pagination
  (`page[size]`, `page[after]`; `meta.has_more`, `meta.after_cursor`, `links.next`).
- `GET /api/v2/users/show_many.json`, `/api/v2/organizations/show_many.json`: ids a page
  references that no side-load or earlier page explained.

Guarantees:

- Every page's rows and that stream's cursor (`ops.sync_state`, source 'zendesk') commit in
  one transaction: a crash anywhere and a rerun store every record exactly once.
- Upsert by source id, newest `updated_at` wins; rows no newer than the stored version are not
  written at all (a rerun with nothing new writes nothing).
- Free text is masked (`mask_text`) before it is stored or logged; email addresses are only
  kept as a keyed hash; quarantined payloads are masked and user payloads stripped of names.
- A record that cannot be parsed goes to `ops.quarantine` with its reason; the rest of the
  page loads.
"""

from __future__ import annotations

import html
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase

from feedbackloop.config import ConfigError, Settings
from feedbackloop.db import models as m
from feedbackloop.db.upsert import quarantine, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.fields import mask_fields
from feedbackloop.governance.gate import GateDecision, record_run
from feedbackloop.governance.identity import check_email, email_hash
from feedbackloop.governance.pii import CountingMasker, find_pii, mask, mask_value
from feedbackloop.sources.http import (
    HttpClient,
    RetryPolicy,
    SourceError,
    UsageRecorder,
    engine_usage_recorder,
)

__all__ = [
    "SOURCE",
    "STREAMS",
    "SyncHooks",
    "SyncPoint",
    "SyncResult",
    "UserRef",
    "ZendeskClient",
    "sync_all",
    "sync_satisfaction_ratings",
    "sync_ticket_events",
    "sync_tickets",
    "sync_users",
]

log = logging.getLogger(__name__)

SOURCE = "zendesk"
STREAM_USERS = "users"
STREAM_TICKETS = "tickets"
STREAM_TICKET_EVENTS = "ticket_events"
STREAM_RATINGS = "satisfaction_ratings"
# Order matters for a full run: users first, so authors and requesters resolve from memory.
STREAMS = (STREAM_USERS, STREAM_TICKETS, STREAM_TICKET_EVENTS, STREAM_RATINGS)

TICKET_STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed", "deleted"})
RATING_SCORES = frozenset({"good", "bad", "offered", "unoffered"})
# Zendesk attributes automation/trigger comments to user -1.
SYSTEM_USER_IDS = frozenset({-1})
_SHOW_MANY_LIMIT = 100

Role = Literal["end_user", "agent", "system"]


# ----------------------------------------------------------------------------- results


@dataclass
class SyncResult:
    """What one stream's sync did."""

    stream: str
    pages: int = 0
    rows_written: int = 0  # inserted or replaced by a newer version
    rows_unchanged: int = 0  # already stored at the same or a newer `updated_at`
    quarantined: int = 0
    api_calls: int = 0
    masked_entities: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class SyncPoint:
    """Where a sync is, for `SyncHooks` (tests inject crashes here)."""

    stream: str
    page: int  # 1-based page number within this run
    stage: Literal["rows", "state", "committed"]
    table: str | None = None  # for stage "rows": the table just upserted (in the open txn)


SyncHook = Callable[[SyncPoint], None]


@dataclass(frozen=True)
class SyncHooks:
    """Optional callback at each point of a page's load; raising from it aborts the sync
    exactly there (stages "rows"/"state" are inside the page's transaction)."""

    on_point: SyncHook | None = None
    # The governance gate (`feedbackloop.governance.gate.table_gate`): rows it rejects are
    # quarantined with the failed expectation instead of stored, in the page's transaction.
    gate: Callable[[str, Sequence[Mapping[str, Any]]], GateDecision] | None = None

    def __call__(self, point: SyncPoint) -> None:
        if self.on_point is not None:
            self.on_point(point)

    def screen(
        self, conn: Connection, table: str, rows: list[dict[str, Any]], *, source: str, actor: str
    ) -> tuple[list[dict[str, Any]], int]:
        """Rows that pass the gate, and how many it quarantined."""
        if self.gate is None or not rows:
            return rows, 0
        decision = self.gate(table, rows)
        for row, reason in decision.rejected:
            quarantine(
                conn,
                source=source,
                stream=table,
                source_id=str(row.get("source_id")),
                reason=reason,
                payload=row,
                mask_payload=mask_value,
                actor=actor,
            )
        if decision.outcome is not None:
            record_run(conn, decision.outcome, batch=f"{source} {table}")
        return [dict(r) for r in decision.passed], len(decision.rejected)


# ------------------------------------------------------------------------------ client


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


class ZendeskClient:
    """Zendesk Support API access plus a small directory of users and organizations seen
    (side-loads, the users export, `show_many` look-ups) used to resolve ids to CRM ids."""

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        *,
        page_size: int | None = None,
        start_time: datetime | None = None,
        product_area_field_id: int | None = None,
        ratings_lookback: timedelta = timedelta(days=14),
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        on_call: UsageRecorder | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url or not email or not api_token:
            raise ConfigError("Zendesk needs a base URL, an API user (email) and an API token")
        self.page_size = page_size
        self.start_time = start_time or datetime(1970, 1, 1, tzinfo=UTC)
        self.product_area_field_id = product_area_field_id
        self.ratings_lookback = ratings_lookback
        # API token auth: "{email}/token" as the user, the token as the password.
        self.http = HttpClient(
            SOURCE,
            base_url,
            auth=httpx.BasicAuth(f"{email}/token", api_token),
            timeout=timeout,
            retry=retry,
            on_call=on_call,
            sleep=sleep,
            rand=rand,
            transport=transport,
        )
        self.users: dict[int, UserRef] = {}
        self.organizations: dict[int, str] = {}
        self._show_many_users = True
        self._show_many_orgs = True

    @classmethod
    def from_settings(
        cls, settings: Settings, *, engine: Engine | None = None, **kwargs: Any
    ) -> ZendeskClient:
        """A client from the `FEEDBACKLOOP_ZENDESK_*` settings; with `engine`, every HTTP
        call is recorded in `ops.api_usage`."""
        settings.require("Zendesk", "zendesk_base_url", "zendesk_email", "zendesk_api_token")
        if engine is not None and "on_call" not in kwargs:
            kwargs["on_call"] = engine_usage_recorder(engine)
        assert settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token
        return cls(
            settings.zendesk_base_url,
            settings.zendesk_email,
            settings.zendesk_api_token.get_secret_value(),
            **kwargs,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def api_calls(self) -> int:
        return self.http.calls

    # ------------------------------------------------------------------- endpoints

    def _paged(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.page_size:
            params["per_page"] = self.page_size
        return params

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body = self.http.get_json(path, params)
        if not isinstance(body, dict):
            raise SourceError(SOURCE, path, 200, "the response is not a JSON object")
        return body

    def export_tickets(self, *, cursor: str | None, start_time: int) -> dict[str, Any]:
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start_time}
        params["include"] = "users,organizations"
        return self._get("/api/v2/incremental/tickets/cursor.json", self._paged(params))

    def export_users(self, *, cursor: str | None, start_time: int) -> dict[str, Any]:
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start_time}
        return self._get("/api/v2/incremental/users/cursor.json", self._paged(params))

    def export_ticket_events(self, *, start_time: int) -> dict[str, Any]:
        params = {"start_time": start_time, "include": "comment_events"}
        return self._get("/api/v2/incremental/ticket_events.json", self._paged(params))

    def ratings_params(self, start_time: int) -> dict[str, Any]:
        return {"start_time": start_time, "page[size]": min(self.page_size or 100, 100)}

    def list_satisfaction_ratings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._get("/api/v2/satisfaction_ratings.json", dict(params))

    # ------------------------------------------------------------------- directory

    def remember_users(self, records: Iterable[Any]) -> None:
        for rec in records:
            if not isinstance(rec, Mapping):
                continue
            try:
                uid = _int(rec.get("id"), "id")
            except _Invalid:
                continue
            locale = rec.get("locale") if isinstance(rec.get("locale"), str) else None
            self.users[uid] = UserRef(
                _external_or("zendesk-user", rec, uid), _role(rec.get("role")), locale
            )

    def remember_organizations(self, records: Iterable[Any]) -> None:
        for rec in records:
            if not isinstance(rec, Mapping):
                continue
            try:
                oid = _int(rec.get("id"), "id")
            except _Invalid:
                continue
            self.organizations[oid] = _external_or("zendesk-org", rec, oid)

    def _show_many(self, kind: str, ids: list[int]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(ids), _SHOW_MANY_LIMIT):
            chunk = ids[start : start + _SHOW_MANY_LIMIT]
            body = self._get(
                f"/api/v2/{kind}/show_many.json", {"ids": ",".join(str(i) for i in chunk)}
            )
            items = body.get(kind)
            if isinstance(items, list):
                out.extend(items)
        return out

    def resolve_users(self, ids: Iterable[int | None]) -> None:
        """Look up the users not yet known (one request per 100). An account whose API
        does not offer `show_many` (404) falls back to `zendesk-user-<id>` ids."""
        unknown = sorted({i for i in ids if i is not None and i not in self.users} - {-1})
        if not unknown or not self._show_many_users:
            return
        try:
            self.remember_users(self._show_many("users", unknown))
        except SourceError as exc:
            if exc.status != 404:
                raise
            self._show_many_users = False
            log.warning("zendesk: users/show_many is unavailable; unknown users keep Zendesk ids")

    def resolve_organizations(self, ids: Iterable[int | None]) -> None:
        unknown = sorted({i for i in ids if i is not None and i not in self.organizations})
        if not unknown or not self._show_many_orgs:
            return
        try:
            self.remember_organizations(self._show_many("organizations", unknown))
        except SourceError as exc:
            if exc.status != 404:
                raise
            self._show_many_orgs = False
            log.warning("zendesk: organizations/show_many is unavailable; keeping Zendesk ids")

    def user_crm_id(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        ref = self.users.get(user_id)
        return ref.crm_id if ref else f"zendesk-user-{user_id}"

    def org_crm_id(self, org_id: int | None) -> str | None:
        if org_id is None:
            return None
        return self.organizations.get(org_id, f"zendesk-org-{org_id}")


# ------------------------------------------------------------------------------ parsing


class _Invalid(ValueError):
    """A record that cannot be loaded; the message is the quarantine reason (no PII)."""


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _Invalid(f"{name} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        return int(value)
    if value is None:
        raise _Invalid(f"{name} is missing")
    raise _Invalid(f"{name} is not an integer")


def _opt_int(record: Mapping[str, Any], name: str) -> int | None:
    value = record.get(name)
    return None if value is None else _int(value, name)


def _ts(record: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    value = record.get(name)
    if value is None:
        if required:
            raise _Invalid(f"{name} is missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise _Invalid(f"{name} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"{name} is not an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _req_ts(record: Mapping[str, Any], name: str) -> datetime:
    value = _ts(record, name)
    if value is None:  # _ts raises for a missing required value; this keeps types exact
        raise _Invalid(f"{name} is missing")
    return value


def _opt_str(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _Invalid(f"{name} is not a string")


def _one_of(value: Any, allowed: frozenset[str], name: str) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    if value is None:
        raise _Invalid(f"{name} is missing")
    raise _Invalid(f"{name} is not one of {', '.join(sorted(allowed))}")


def _language(locale: str | None) -> str | None:
    if not locale:
        return None
    return locale.replace("_", "-").split("-")[0].lower()[:16] or None


_TAG = re.compile(r"<[^>]+>")


def _html_to_text(value: str) -> str:
    return html.unescape(_TAG.sub(" ", value)).strip()


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _record_id(record: Any) -> str | None:
    if isinstance(record, Mapping):
        value = record.get("id")
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            return mask(str(value))[:128]
    return None


_USER_KEEP = ("id", "external_id", "role", "organization_id", "locale", "created_at", "updated_at")


def _safe_user_payload(record: Any) -> Any:
    # Names, phones, notes and signatures are personal data mask_text does not detect.
    if isinstance(record, Mapping):
        return {k: record.get(k) for k in _USER_KEEP if k in record}
    return record


@dataclass
class _Bad:
    table: str
    source_id: str | None
    reason: str
    payload: Any


@dataclass
class _Batch:
    """One page turned into rows per table plus the records refused."""

    rows: dict[type[DeclarativeBase], list[dict[str, Any]]] = field(default_factory=dict)
    bad: list[_Bad] = field(default_factory=list)
    masker: CountingMasker = field(default_factory=CountingMasker)

    def add(self, model: type[DeclarativeBase], row: dict[str, Any]) -> None:
        self.rows.setdefault(model, []).append(row)

    def refuse(self, table: str, record: Any, reason: str, *, user: bool = False) -> None:
        payload = _safe_user_payload(record) if user else record
        self.bad.append(_Bad(table, _record_id(record), reason, payload))


def _items(body: Mapping[str, Any], key: str, endpoint: str) -> list[Any]:
    items = body.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise SourceError(SOURCE, endpoint, 200, f"'{key}' in the response is not a list")
    return items


# --------------------------------------------------------------------------- row builders


def _ticket_batch(client: ZendeskClient, body: Mapping[str, Any]) -> _Batch:
    tickets = _items(body, "tickets", "/api/v2/incremental/tickets/cursor.json")
    client.remember_users(_items(body, "users", "tickets side-load"))
    client.remember_organizations(_items(body, "organizations", "tickets side-load"))
    dicts = [t for t in tickets if isinstance(t, Mapping)]
    client.resolve_users(_safe_ids(dicts, ("requester_id", "assignee_id")))
    client.resolve_organizations(_safe_ids(dicts, ("organization_id",)))
    batch = _Batch()
    for rec in tickets:
        try:
            batch.add(m.Ticket, _ticket_row(client, rec, batch.masker))
        except _Invalid as exc:
            batch.refuse("tickets", rec, str(exc))
    return batch


def _safe_ids(records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> set[int]:
    out: set[int] = set()
    for rec in records:
        for key in keys:
            try:
                value = _opt_int(rec, key)
            except _Invalid:
                continue
            if value is not None:
                out.add(value)
    return out


def _ticket_row(client: ZendeskClient, rec: Any, masker: CountingMasker) -> dict[str, Any]:
    if not isinstance(rec, Mapping):
        raise _Invalid("record is not a JSON object")
    ticket_id = _int(rec.get("id"), "id")
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
        raise _Invalid("tags is not a list of strings")
    priority = _opt_str(rec, "priority")
    requester_id = _opt_int(rec, "requester_id")
    requester = client.users.get(requester_id) if requester_id is not None else None
    return {
        "source": SOURCE,
        "source_id": str(ticket_id),
        "subject": masker(_opt_str(rec, "subject")),
        "description": masker(_opt_str(rec, "description")),
        "status": status,
        "priority": priority[:16] if priority else None,
        "channel": str(channel)[:32] if channel is not None else None,
        "product_area": _product_area(client, rec),
        "language": _language(requester.locale if requester else None),
        "requester_source_id": client.user_crm_id(requester_id),
        "assignee_source_id": client.user_crm_id(_opt_int(rec, "assignee_id")),
        "account_source_id": client.org_crm_id(_opt_int(rec, "organization_id")),
        "tags": [mask(t) for t in tags],
        "is_deleted": status == "deleted",
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _product_area(client: ZendeskClient, rec: Mapping[str, Any]) -> str | None:
    if client.product_area_field_id is None:
        return None
    for item in rec.get("custom_fields") or []:
        if isinstance(item, Mapping) and item.get("id") == client.product_area_field_id:
            value = item.get("value")
            return mask(str(value))[:64] if value not in (None, "") else None
    return None


def _user_batch(
    client: ZendeskClient,
    body: Mapping[str, Any],
    hash_key: bytes,
    deliverability: bool,
    dns_timeout: float,
) -> _Batch:
    users = _items(body, "users", "/api/v2/incremental/users/cursor.json")
    client.remember_users(users)
    dicts = [u for u in users if isinstance(u, Mapping)]
    client.resolve_organizations(_safe_ids(dicts, ("organization_id",)))
    batch = _Batch()
    for rec in users:
        try:
            row = _contact_row(client, rec, hash_key, deliverability, dns_timeout)
        except _Invalid as exc:
            batch.refuse("contacts", rec, str(exc), user=True)
            continue
        if row is not None:
            batch.add(m.Contact, row)
    return batch


def _contact_row(
    client: ZendeskClient,
    rec: Any,
    hash_key: bytes,
    deliverability: bool,
    dns_timeout: float,
) -> dict[str, Any] | None:
    if not isinstance(rec, Mapping):
        raise _Invalid("record is not a JSON object")
    user_id = _int(rec.get("id"), "id")
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
        "account_source_id": client.org_crm_id(_opt_int(rec, "organization_id")),
        "language": _language(_opt_str(rec, "locale")),
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _event_kind(child: Mapping[str, Any]) -> Any:
    return child.get("event_type") or child.get("type")


def _status_of(child: Mapping[str, Any]) -> tuple[bool, Any]:
    """(is a status event, new status). Audit-style events name the field (`field_name`,
    `value`); the incremental export's child events carry it as a `status` key."""
    if child.get("field_name") == "status":
        return True, child.get("value")
    if "status" in child and "field_name" not in child:
        return True, child.get("status")
    return False, None


def _event_batch(client: ZendeskClient, body: Mapping[str, Any]) -> _Batch:
    events = _items(body, "ticket_events", "/api/v2/incremental/ticket_events.json")
    authors: set[int] = set()
    for audit_event in events:
        if not isinstance(audit_event, Mapping):
            continue
        for child in audit_event.get("child_events") or []:
            if isinstance(child, Mapping) and _event_kind(child) == "Comment":
                try:
                    author = _opt_int(child, "author_id")
                except _Invalid:
                    continue
                if author is not None:
                    authors.add(author)
    client.resolve_users(authors)
    batch = _Batch()
    for audit_event in events:
        _audit_rows(client, audit_event, batch)
    return batch


def _audit_rows(client: ZendeskClient, event: Any, batch: _Batch) -> None:
    if not isinstance(event, Mapping):
        batch.refuse("ticket_events", event, "record is not a JSON object")
        return
    children = event.get("child_events") or []
    try:
        ticket_id = _int(event.get("ticket_id"), "ticket_id")
        when = _ts(event, "created_at", required=False) or _req_ts(event, "timestamp")
        if not isinstance(children, list):
            raise _Invalid("child_events is not a list")
    except _Invalid as exc:
        batch.refuse("ticket_events", event, str(exc))
        return
    for child in children:
        if not isinstance(child, Mapping):
            batch.refuse("ticket_events", child, "child event is not a JSON object")
            continue
        kind = _event_kind(child)
        if kind == "Comment":
            try:
                batch.add(m.TicketComment, _comment_row(client, ticket_id, when, child, batch))
            except _Invalid as exc:
                batch.refuse("ticket_comments", child, str(exc))
        elif kind in ("Create", "Change"):
            is_status, value = _status_of(child)
            if not is_status:
                continue
            try:
                batch.add(m.TicketStatusChange, _status_row(ticket_id, when, child, value))
            except _Invalid as exc:
                batch.refuse("ticket_status_changes", child, str(exc))


def _comment_row(
    client: ZendeskClient,
    ticket_id: int,
    audit_time: datetime | None,
    child: Mapping[str, Any],
    batch: _Batch,
) -> dict[str, Any]:
    comment_id = _int(child.get("id"), "id")
    created_at = _ts(child, "created_at", required=False) or audit_time
    if created_at is None:
        raise _Invalid("created_at is missing")
    body = _opt_str(child, "body")
    if body is None:
        body = _opt_str(child, "plain_body")
    if body is None:
        html_body = _opt_str(child, "html_body")
        body = _html_to_text(html_body) if html_body is not None else None
    if body is None:
        raise _Invalid("body is missing")
    public = child.get("public", True)
    if not isinstance(public, bool):
        raise _Invalid("public is not a boolean")
    author_id = _opt_int(child, "author_id")
    role: Role
    if author_id is None or author_id in SYSTEM_USER_IDS:
        role, author = "system", None
    else:
        ref = client.users.get(author_id)
        # Unknown authors (deleted users, no look-up endpoint) are most often requesters.
        role = ref.role if ref else "end_user"
        author = client.user_crm_id(author_id)
    return {
        "source": SOURCE,
        "source_id": str(comment_id),
        "ticket_source_id": str(ticket_id),
        "author_source_id": author,
        "author_role": role,
        "is_public": public,
        "body": batch.masker(body),
        "created_at": created_at,
        # Comments are immutable in Zendesk: the creation time is the version.
        "updated_at": created_at,
    }


def _status_row(
    ticket_id: int, audit_time: datetime | None, child: Mapping[str, Any], value: Any
) -> dict[str, Any]:
    event_id = _int(child.get("id"), "id")
    status = _one_of(value, TICKET_STATUSES, "status")
    previous = child.get("previous_value")
    if previous is not None:
        previous = _one_of(previous, TICKET_STATUSES, "previous_value")
    created_at = _ts(child, "created_at", required=False) or audit_time
    if created_at is None:
        raise _Invalid("created_at is missing")
    return {
        "source": SOURCE,
        "source_id": str(event_id),
        "ticket_source_id": str(ticket_id),
        "previous_status": previous,
        "status": status,
        "created_at": created_at,
        "updated_at": created_at,
    }


def _rating_batch(client: ZendeskClient, body: Mapping[str, Any]) -> _Batch:
    ratings = _items(body, "satisfaction_ratings", "/api/v2/satisfaction_ratings.json")
    dicts = [r for r in ratings if isinstance(r, Mapping)]
    client.resolve_users(_safe_ids(dicts, ("requester_id",)))
    batch = _Batch()
    for rec in ratings:
        try:
            batch.add(m.SatisfactionRating, _rating_row(client, rec, batch.masker))
        except _Invalid as exc:
            batch.refuse("satisfaction_ratings", rec, str(exc))
    return batch


def _rating_row(client: ZendeskClient, rec: Any, masker: CountingMasker) -> dict[str, Any]:
    if not isinstance(rec, Mapping):
        raise _Invalid("record is not a JSON object")
    rating_id = _int(rec.get("id"), "id")
    ticket_id = _int(rec.get("ticket_id"), "ticket_id")
    updated_at = _req_ts(rec, "updated_at")
    return {
        "source": SOURCE,
        "source_id": str(rating_id),
        "ticket_source_id": str(ticket_id),
        "requester_source_id": client.user_crm_id(_opt_int(rec, "requester_id")),
        "score": _one_of(rec.get("score"), RATING_SCORES, "score"),
        "comment": masker(_opt_str(rec, "comment")),
        "reason": masker(_opt_str(rec, "reason")),
        "created_at": _ts(rec, "created_at", required=False),
        "updated_at": updated_at,
    }


# ------------------------------------------------------------------------------ state


def _load_state(engine: Engine, stream: str) -> tuple[str | None, dict[str, Any]]:
    with engine.connect() as conn:
        row = conn.execute(
            select(m.SyncState.cursor, m.SyncState.state).where(
                m.SyncState.source == SOURCE, m.SyncState.stream == stream
            )
        ).first()
    if row is None:
        return None, {}
    return row.cursor, dict(row.state or {})


def _save_state(conn: Connection, stream: str, cursor: str | None, state: dict[str, Any]) -> None:
    stmt = pg_insert(m.SyncState).values(source=SOURCE, stream=stream, cursor=cursor, state=state)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["source", "stream"],
            set_={
                "cursor": stmt.excluded.cursor,
                "state": stmt.excluded.state,
                "updated_at": func.now(),
            },
        )
    )


def _only_newer(
    conn: Connection, model: type[DeclarativeBase], rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Rows newer than what is stored (one per source id: the newest of the page)."""
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = newest.get(row["source_id"])
        if seen is None or seen["updated_at"] < row["updated_at"]:
            newest[row["source_id"]] = row
    table = model.__table__
    stored: dict[str, datetime] = {}
    ids = list(newest)
    for start in range(0, len(ids), 1000):
        result = conn.execute(
            select(table.c.source_id, table.c.updated_at).where(
                table.c.source == SOURCE, table.c.source_id.in_(ids[start : start + 1000])
            )
        )
        stored.update((sid, updated) for sid, updated in result)
    fresh = [r for sid, r in newest.items() if sid not in stored or stored[sid] < r["updated_at"]]
    return fresh, len(rows) - len(fresh)


# Columns the row builders mask themselves (with counts): not scanned twice.
_MASKED_TEXT = frozenset({"subject", "description", "body", "comment", "reason"})


def _commit_page(
    engine: Engine,
    result: SyncResult,
    batch: _Batch,
    *,
    cursor: str | None,
    state: dict[str, Any],
    hooks: SyncHooks,
    actor: str,
    hash_key: bytes,
) -> None:
    """Rows, quarantined records, the mask audit and the new cursor: one transaction."""
    page = result.pages + 1
    written = unchanged = quarantined = 0
    counts = batch.masker.counts
    with engine.begin() as conn:
        for model, built in batch.rows.items():
            # Ids, categories and tags too (texts are masked already); an id holding PII is
            # replaced by its keyed hash, before the newest-version check that keys on it.
            rows = [mask_fields(r, key=hash_key, skip=_MASKED_TEXT, counts=counts) for r in built]
            fresh, same = _only_newer(conn, model, rows)
            fresh, gated = hooks.screen(
                conn, model.__tablename__, fresh, source=SOURCE, actor=actor
            )
            quarantined += gated
            outcome = upsert_rows(
                conn,
                model,
                fresh,
                source=SOURCE,
                stream=model.__tablename__,
                mask_payload=mask_value,
                actor=actor,
            )
            written += outcome.written
            quarantined += outcome.quarantined
            unchanged += same
            hooks(SyncPoint(result.stream, page, "rows", model.__tablename__))
        for bad in batch.bad:
            quarantine(
                conn,
                source=SOURCE,
                stream=bad.table,
                source_id=bad.source_id,
                reason=bad.reason,
                payload=bad.payload,
                mask_payload=mask_value,
                actor=actor,
            )
        audit.masked(
            conn,
            actor=actor,
            entity_type=result.stream,
            entity_id=f"{SOURCE} page {page}",
            counts=batch.masker.counts,
        )
        hooks(SyncPoint(result.stream, page, "state"))
        _save_state(conn, result.stream, cursor, state)
    result.pages = page
    result.rows_written += written
    result.rows_unchanged += unchanged
    result.quarantined += quarantined + len(batch.bad)
    result.masked_entities.update(batch.masker.counts)
    hooks(SyncPoint(result.stream, page, "committed"))
    log.info(
        "zendesk %s page %d: %d written, %d unchanged, %d quarantined",
        result.stream,
        page,
        written,
        unchanged,
        quarantined + len(batch.bad),
    )


# ------------------------------------------------------------------------------- syncs


def _stalled(stream: str, endpoint: str) -> SourceError:
    return SourceError(SOURCE, endpoint, 200, f"{stream} pagination did not advance")


def _cursor_export(
    engine: Engine,
    client: ZendeskClient,
    stream: str,
    endpoint: str,
    fetch: Callable[..., dict[str, Any]],
    build: Callable[[dict[str, Any]], _Batch],
    hooks: SyncHooks | None,
    actor: str,
    hash_key: bytes,
) -> SyncResult:
    """Cursor-based incremental export: `start_time` once, then the stored `after_cursor`."""
    result = SyncResult(stream)
    calls_before = client.api_calls
    hooks = hooks or SyncHooks()
    cursor, state = _load_state(engine, stream)
    start_time = _epoch(client.start_time)
    try:
        while True:
            body = fetch(cursor=cursor, start_time=start_time)
            batch = build(body)
            after = body.get("after_cursor")
            after = after if isinstance(after, str) and after else cursor
            end = bool(body.get("end_of_stream"))
            _commit_page(
                engine,
                result,
                batch,
                cursor=after,
                state={**state, "end_of_stream": end},
                hooks=hooks,
                actor=actor,
                hash_key=hash_key,
            )
            if end or after is None:
                break
            if after == cursor:
                raise _stalled(stream, endpoint)
            cursor = after
    finally:
        result.api_calls = client.api_calls - calls_before
    return result


def sync_users(
    engine: Engine,
    client: ZendeskClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop zendesk",
    email_deliverability: bool = False,
    email_dns_timeout: float = 2.0,
    hooks: SyncHooks | None = None,
) -> SyncResult:
    """End users -> raw.contacts (CRM id = `external_id`, else `zendesk-user-<id>`); the email
    address is validated and stored only as a keyed hash. Agents only feed the directory."""
    return _cursor_export(
        engine,
        client,
        STREAM_USERS,
        "/api/v2/incremental/users/cursor.json",
        client.export_users,
        lambda body: _user_batch(client, body, hash_key, email_deliverability, email_dns_timeout),
        hooks,
        actor,
        hash_key,
    )


def sync_tickets(
    engine: Engine,
    client: ZendeskClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop zendesk",
    hooks: SyncHooks | None = None,
) -> SyncResult:
    """Tickets -> raw.tickets; deleted tickets stay with status 'deleted' / `is_deleted`.
    `hash_key` hashes ids that hold personal data."""
    return _cursor_export(
        engine,
        client,
        STREAM_TICKETS,
        "/api/v2/incremental/tickets/cursor.json",
        client.export_tickets,
        lambda body: _ticket_batch(client, body),
        hooks,
        actor,
        hash_key,
    )


def sync_ticket_events(
    engine: Engine,
    client: ZendeskClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop zendesk",
    hooks: SyncHooks | None = None,
) -> SyncResult:
    """Ticket audits -> raw.ticket_comments (author role from the user directory) and
    raw.ticket_status_changes. Time-based: the next `start_time` is the page's `end_time`, so
    the boundary second comes back once more and is skipped as unchanged."""
    endpoint = "/api/v2/incremental/ticket_events.json"
    result = SyncResult(STREAM_TICKET_EVENTS)
    calls_before = client.api_calls
    hooks = hooks or SyncHooks()
    _, state = _load_state(engine, STREAM_TICKET_EVENTS)
    start = int(state.get("start_time", _epoch(client.start_time)))
    try:
        while True:
            body = client.export_ticket_events(start_time=start)
            batch = _event_batch(client, body)
            next_start = _next_start_time(body, start)
            end = bool(body.get("end_of_stream"))
            events = body.get("ticket_events") or []
            _commit_page(
                engine,
                result,
                batch,
                cursor=str(next_start),
                state={"start_time": next_start, "end_of_stream": end},
                hooks=hooks,
                actor=actor,
                hash_key=hash_key,
            )
            if end or not events:
                break
            if next_start <= start:
                raise _stalled(STREAM_TICKET_EVENTS, endpoint)
            start = next_start
    finally:
        result.api_calls = client.api_calls - calls_before
    return result


def _next_start_time(body: Mapping[str, Any], current: int) -> int:
    end_time = body.get("end_time")
    if isinstance(end_time, (int, float)) and not isinstance(end_time, bool):
        return max(current, int(end_time))
    next_page = body.get("next_page")
    if isinstance(next_page, str):
        values = parse_qs(urlsplit(next_page).query).get("start_time")
        if values and values[0].isdigit():
            return max(current, int(values[0]))
    return current


def sync_satisfaction_ratings(
    engine: Engine,
    client: ZendeskClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop zendesk",
    hooks: SyncHooks | None = None,
) -> SyncResult:
    """Satisfaction ratings -> raw.satisfaction_ratings, comments masked.

    The list is filtered by `start_time` and walked with cursor pagination (`page[after]`);
    an API answering with offset pagination (`next_page`) is followed too. The window start
    and the next page's query are saved with each page. A finished walk moves the window to
    the newest rating seen minus `ratings_lookback`, because a rating offered earlier can be
    answered (updated) later."""
    endpoint = "/api/v2/satisfaction_ratings.json"
    result = SyncResult(STREAM_RATINGS)
    calls_before = client.api_calls
    hooks = hooks or SyncHooks()
    _, state = _load_state(engine, STREAM_RATINGS)
    window = int(state.get("start_time", _epoch(client.start_time)))
    newest = int(state.get("newest_created", window))
    pending = state.get("next")
    params: dict[str, Any] = (
        dict(pending) if isinstance(pending, dict) else client.ratings_params(window)
    )
    try:
        while True:
            body = client.list_satisfaction_ratings(params)
            batch = _rating_batch(client, body)
            for row in batch.rows.get(m.SatisfactionRating, []):
                if row["created_at"] is not None:
                    newest = max(newest, _epoch(row["created_at"]))
            next_params = _next_ratings_params(body, params)
            if next_params is not None:
                new_state = {"start_time": window, "next": next_params, "newest_created": newest}
            else:
                lookback = int(client.ratings_lookback.total_seconds())
                new_state = {
                    "start_time": max(window, newest - lookback),
                    "next": None,
                    "newest_created": newest,
                }
            _commit_page(
                engine,
                result,
                batch,
                cursor=next_params.get("page[after]") if next_params else None,
                state=new_state,
                hooks=hooks,
                actor=actor,
                hash_key=hash_key,
            )
            if next_params is None:
                break
            if next_params == params:
                raise _stalled(STREAM_RATINGS, endpoint)
            params = next_params
    finally:
        result.api_calls = client.api_calls - calls_before
    return result


def _next_ratings_params(body: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """The query of the next page, or None at the end: `meta.has_more` + `meta.after_cursor`
    (cursor pagination, `links.next` as a fallback) or `next_page` (offset pagination)."""
    meta = body.get("meta")
    if isinstance(meta, Mapping):
        if not meta.get("has_more"):
            return None
        after = meta.get("after_cursor")
        if isinstance(after, str) and after:
            return {**{k: v for k, v in params.items() if k != "page[after]"}, "page[after]": after}
        links = body.get("links")
        link = links.get("next") if isinstance(links, Mapping) else None
    else:
        link = body.get("next_page")
    if not isinstance(link, str) or not link:
        return None
    # Only the query is taken from the link: requests never follow a host from a response.
    return {k: v[-1] for k, v in parse_qs(urlsplit(link).query).items()}


def sync_all(
    engine: Engine,
    client: ZendeskClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop zendesk",
    email_deliverability: bool = False,
    email_dns_timeout: float = 2.0,
    hooks: SyncHooks | None = None,
) -> dict[str, SyncResult]:
    """Every stream in dependency order (users first, so ids resolve from memory)."""
    return {
        STREAM_USERS: sync_users(
            engine,
            client,
            hash_key=hash_key,
            actor=actor,
            email_deliverability=email_deliverability,
            email_dns_timeout=email_dns_timeout,
            hooks=hooks,
        ),
        STREAM_TICKETS: sync_tickets(engine, client, hash_key=hash_key, actor=actor, hooks=hooks),
        STREAM_TICKET_EVENTS: sync_ticket_events(
            engine, client, hash_key=hash_key, actor=actor, hooks=hooks
        ),
        STREAM_RATINGS: sync_satisfaction_ratings(
            engine, client, hash_key=hash_key, actor=actor, hooks=hooks
        ),
    }
