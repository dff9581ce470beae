"""A fake Zendesk Support API over real HTTP on 127.0.0.1, serving a `DemoDataset`.

It follows the documented shapes of the endpoints the connector uses:

- `GET /api/v2/incremental/tickets/cursor.json` and `/api/v2/incremental/users/cursor.json`:
  `start_time` or `cursor`; `after_cursor`, `after_url`, `before_cursor`, `before_url`,
  `end_of_stream`; tickets side-load `users` and `organizations` on `include=`; deleted
  tickets come back with status "deleted" unless `exclude_deleted=true`.
- `GET /api/v2/incremental/ticket_events.json`: time-based (`start_time`; `end_time`,
  `next_page`, `count`, `end_of_stream`); audits (`event_type` "Audit") with `child_events`:
  `Comment` events (with `include=comment_events`), status `Create`/`Change` events.
- `GET /api/v2/satisfaction_ratings.json`: `start_time`/`end_time`; cursor pagination with
  `page[size]`/`page[after]` (`meta.has_more`, `meta.after_cursor`, `links.next`), offset
  pagination without `page[size]`.
- `GET /api/v2/users/show_many.json`, `/api/v2/organizations/show_many.json` (`ids=`).
- Ticket updates (routing actions): `PUT /api/v2/tickets/{id}.json` with `{"ticket":
  {"comment": {"body", "public"}, "priority", "tags"}}` (200 with the ticket and its audit; 422
  `RecordInvalid` for a bad priority, an empty comment or a closed ticket),
  `PUT /api/v2/tickets/{id}/tags.json` (adds tags, 200 `{"tags"}`),
  `GET /api/v2/tickets/{id}.json` and
  `GET /api/v2/tickets/{id}/comments.json` (`sort_order`, `per_page`/`page`, `next_page`). As
  documented, `Idempotency-Key` covers ticket creation only: updates ignore it (it is recorded),
  so a repeated comment is a second comment. `update_faults` (a `WriteFaults`) injects 429s,
  5xx and answers dropped after the update was applied; `writes` records every update received.

Basic auth `{email}/token:{api_token}` is checked (401 otherwise). A `FaultPlan` injects 429
storms (with or without `Retry-After`), 500s, slow responses, malformed records and deleted
tickets; `update_ticket`/`delete_ticket` change the data while the server runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from demo.fake_http import JsonHandler, Received, WriteFaults, retry_after_header, serving
from demo.generator import DemoDataset

__all__ = [
    "PRODUCT_AREA_FIELD_ID",
    "FakeZendesk",
    "FaultPlan",
    "serve_fake_zendesk",
]

# The custom ticket field the fake puts the product area in.
PRODUCT_AREA_FIELD_ID = 360_000_000_001
SYSTEM_USER_ID = -1
API_USER_ID = 39_000_000  # the API user routing actions write as
_TICKET_WRITE = re.compile(r"/api/v2/tickets/(\d+)(/tags)?\.json")
_TICKET_READ = re.compile(r"/api/v2/tickets/(\d+)(/comments)?")
_PRIORITIES = ("urgent", "high", "normal", "low")
_LOCALES = {"en": "en-US", "de": "de", "fr": "fr", "es": "es", "pt": "pt-BR"}


@dataclass(frozen=True)
class FaultPlan:
    """Faults applied to the API requests the server receives, in order: the first
    `rate_limited` answer 429, the next `server_errors` answer 500 (or `error_status`); the
    first `slow_requests` wait `delay` seconds before answering. `only_paths` restricts the
    faults to paths containing one of the given strings."""

    rate_limited: int = 0
    retry_after: int | None = 7  # None: a 429 without the header
    server_errors: int = 0
    error_status: int = 500
    slow_requests: int = 0
    delay: float = 0.0
    only_paths: tuple[str, ...] = ()
    malformed_tickets: bool = False  # no id, bad updated_at, id of the wrong type
    malformed_ratings: bool = False  # an unknown score
    deleted_tickets: tuple[str, ...] = ()  # demo ticket ids served with status "deleted"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _encode(ts: int, key: int) -> str:
    # Opaque to clients, like Zendesk's ("<time>.0||<id>|" in base64).
    return base64.urlsafe_b64encode(f"{ts}.0||{key}|".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, _, rest = raw.partition(".0||")
        return int(ts), int(rest.rstrip("|"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


@dataclass
class _Item:
    ts: int  # generated_timestamp (tickets, users), timestamp (events), created_at (ratings)
    key: int  # tie-breaker and cursor position
    body: dict[str, Any]
    # Events only (they never change once built): the body as JSON, encoded once, so a page
    # of the events export is joined, not encoded again (the loop benchmark's fake shares
    # the two cores with the pipeline it serves).
    encoded: str | None = None


@dataclass(frozen=True)
class Encoded:
    """A response body already encoded: exactly the bytes `json.dumps` of it would give."""

    data: bytes


@dataclass
class FakeZendesk:
    """The running fake: `base_url`, credentials, the request log and data mutators."""

    dataset: DemoDataset
    faults: FaultPlan = field(default_factory=FaultPlan)
    page_size: int = 25
    email: str = "api@tallybird.example"
    api_token: str = "fake-zendesk-token"
    base_url: str = ""
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _served: int = field(default=0, init=False, repr=False)
    _tickets: list[_Item] = field(default_factory=list, init=False, repr=False)
    # Writes at the loop benchmark's rate (thousands against 100,000 tickets) must not scan or
    # re-sort every ticket: an id index, the newest timestamp, and a sort only before an export.
    _by_id: dict[Any, _Item] = field(default_factory=dict, init=False, repr=False)
    _indexed: int = field(default=0, init=False, repr=False)
    _top_ts: int | None = field(default=None, init=False, repr=False)
    _unsorted: bool = field(default=False, init=False, repr=False)
    _users: list[_Item] = field(default_factory=list, init=False, repr=False)
    _orgs: dict[int, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _events: list[_Item] = field(default_factory=list, init=False, repr=False)
    _ratings: list[_Item] = field(default_factory=list, init=False, repr=False)
    _user_ids: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _contact_ids: set[str] = field(default_factory=set, init=False, repr=False)
    # Routing actions: faults for updates, updates received, comments added through the API.
    update_faults: WriteFaults = field(default_factory=WriteFaults)
    writes: list[Received] = field(default_factory=list)
    added_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _next_comment_id: int = field(default=80_000_000_000, init=False, repr=False)

    @property
    def settings(self) -> dict[str, str]:
        """Settings (field names, `Settings.updated`) pointing the connector at this fake."""
        return {
            "zendesk_base_url": self.base_url,
            "zendesk_email": self.email,
            "zendesk_api_token": self.api_token,
        }

    def __post_init__(self) -> None:
        self._build()

    # ---------------------------------------------------------------------- data

    def _user_id(self, crm_id: str | None, role: str) -> int:
        if crm_id is None:
            return SYSTEM_USER_ID
        if crm_id not in self._user_ids:
            base = 20_000_000 if role == "end_user" else 30_000_000
            self._user_ids[crm_id] = base + len(self._user_ids) + 1
            if crm_id not in self._contact_ids:
                self._add_user(crm_id, self._user_ids[crm_id], role)
        return self._user_ids[crm_id]

    def _add_user(self, crm_id: str, user_id: int, role: str) -> None:
        """A user the dataset names but does not describe (agents, unknown requesters)."""
        since = self.dataset.now - timedelta(days=365)
        body = {
            "id": user_id,
            "url": f"/api/v2/users/{user_id}.json",
            "name": f"User {crm_id}",
            "email": f"{crm_id}@tallybird.example",
            "external_id": crm_id,
            "role": "end-user" if role == "end_user" else "agent",
            "locale": "en-US",
            "organization_id": None,
            "active": True,
            "created_at": _iso(since),
            "updated_at": _iso(since),
        }
        self._users.append(_Item(_epoch(since), user_id, body))

    def _build(self) -> None:
        ds = self.dataset
        self._contact_ids = {c.source_id for c in ds.contacts}
        org_ids: dict[str, int] = {}
        for n, a in enumerate(ds.accounts, start=1):
            oid = 40_000_000 + n
            org_ids[a.source_id] = oid
            self._orgs[oid] = {
                "id": oid,
                "name": a.name,
                "external_id": a.source_id,
                "created_at": _iso(a.created_at),
                "updated_at": _iso(a.updated_at),
            }
        for c in ds.contacts:
            uid = self._user_id(c.source_id, "end_user")
            body = {
                "id": uid,
                "url": f"/api/v2/users/{uid}.json",
                "name": c.name,
                "email": c.email,
                "external_id": c.source_id,
                "role": "end-user",
                "locale": _LOCALES.get(c.language, c.language),
                "organization_id": org_ids.get(c.account_source_id),
                "active": True,
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
            }
            self._users.append(_Item(_epoch(c.updated_at), uid, body))
        deleted = set(self.faults.deleted_tickets)
        for t in ds.tickets:
            tid = int(t.source_id)
            status = "deleted" if t.source_id in deleted else t.status
            body = {
                "id": tid,
                "url": f"/api/v2/tickets/{tid}.json",
                "external_id": None,
                "type": None,
                "subject": t.subject,
                "raw_subject": t.subject,
                "description": t.description,
                "priority": t.priority,
                "status": status,
                "requester_id": self._user_id(t.requester_source_id, "end_user"),
                "submitter_id": self._user_id(t.requester_source_id, "end_user"),
                "assignee_id": (
                    self._user_id(t.assignee_source_id, "agent") if t.assignee_source_id else None
                ),
                "organization_id": org_ids.get(t.account_source_id),
                "tags": list(t.tags),
                "via": {"channel": t.channel},
                "custom_fields": [{"id": PRODUCT_AREA_FIELD_ID, "value": t.product_area}],
                "created_at": _iso(t.created_at),
                "updated_at": _iso(t.updated_at),
                "generated_timestamp": _epoch(t.updated_at),
            }
            self._tickets.append(_Item(_epoch(t.updated_at), tid, body))
        if self.faults.malformed_tickets and self._tickets:
            self._add_malformed_tickets()
        self._build_events()
        for r in ds.satisfaction_ratings:
            rid = int(r.source_id)
            body = {
                "id": rid,
                "url": f"/api/v2/satisfaction_ratings/{rid}.json",
                "assignee_id": None,
                "group_id": None,
                "requester_id": self._user_id(r.requester_source_id, "end_user"),
                "ticket_id": int(r.ticket_source_id),
                "score": r.score,
                "comment": r.comment,
                "reason": r.reason,
                "created_at": _iso(r.created_at),
                "updated_at": _iso(r.updated_at),
            }
            self._ratings.append(_Item(_epoch(r.created_at), rid, body))
        if self.faults.malformed_ratings and self._ratings:
            first = self._ratings[0]
            bad = {**first.body, "id": 8_999_999_999, "score": "excellent"}
            self._ratings.append(_Item(first.ts, 8_999_999_999, bad))
        for items in (self._tickets, self._users, self._events, self._ratings):
            items.sort(key=lambda i: (i.ts, i.key))
        for item in self._events:
            item.encoded = json.dumps(item.body)

    def _add_malformed_tickets(self) -> None:
        anchor = self._tickets[len(self._tickets) // 3]
        template = {k: v for k, v in anchor.body.items() if k != "id"}
        no_id = {
            **template,
            "subject": "Refund please, write to jane.doe@example.com",
        }
        bad_time = {**template, "id": 99_000_001, "updated_at": "31/10/2026 noon"}
        wrong_type = {**template, "id": "ticket-abc"}
        for key, body in ((99_000_000, no_id), (99_000_001, bad_time), (99_000_002, wrong_type)):
            self._tickets.append(_Item(anchor.ts, key, body))

    def _build_events(self) -> None:
        """One audit per (ticket, moment): the comments and status changes made together."""
        ds = self.dataset
        audits: dict[tuple[str, datetime], dict[str, Any]] = {}

        def audit_for(ticket_id: str, when: datetime, updater: int) -> dict[str, Any]:
            key = (ticket_id, when)
            if key not in audits:
                audits[key] = {
                    "id": 70_000_000_000 + len(audits) + 1,
                    "ticket_id": int(ticket_id),
                    "timestamp": _epoch(when),
                    "created_at": _iso(when),
                    "updater_id": updater,
                    "via": "Web form",
                    "system": {},
                    "metadata": {},
                    "merged_ticket_ids": [],
                    "event_type": "Audit",
                    "child_events": [],
                }
            return audits[key]

        for c in ds.comments:
            author = (
                SYSTEM_USER_ID
                if c.author_role == "system" or c.author_source_id is None
                else self._user_id(c.author_source_id, c.author_role)
            )
            audit = audit_for(c.ticket_source_id, c.created_at, author)
            audit["child_events"].append(
                {
                    "id": int(c.source_id),
                    "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
                    "via_reference_id": None,
                    "type": "Comment",
                    "event_type": "Comment",
                    "author_id": author,
                    "body": c.body,
                    "html_body": f'<div class="zd-comment"><p>{c.body}</p></div>',
                    "public": c.is_public,
                    "attachments": [],
                    "audit_id": audit["id"],
                    "created_at": _iso(c.created_at),
                }
            )
        for s in ds.status_changes:
            audit = audit_for(s.ticket_source_id, s.created_at, SYSTEM_USER_ID)
            kind = "Create" if s.previous_status is None else "Change"
            audit["child_events"].append(
                {
                    "id": int(s.source_id),
                    "via": "Web form",
                    "via_reference_id": None,
                    "type": kind,
                    "event_type": kind,
                    "field_name": "status",
                    "value": s.status,
                    "previous_value": s.previous_status,
                }
            )
        for audit in audits.values():
            self._events.append(_Item(audit["timestamp"], audit["id"], audit))

    # ------------------------------------------------------------------- mutators

    def _bump(self) -> int:
        if self._top_ts is None:
            self._top_ts = max(i.ts for i in self._tickets)
        self._top_ts += 1
        return self._top_ts

    def _find(self, ticket_id: Any) -> _Item | None:
        if self._indexed != len(self._tickets):
            self._by_id = {}
            for i in self._tickets:
                tid = i.body.get("id")
                if isinstance(tid, int) and tid not in self._by_id:  # the first, as a scan
                    self._by_id[tid] = i
            self._indexed = len(self._tickets)
        return self._by_id.get(ticket_id) if isinstance(ticket_id, int) else None

    def _sorted_tickets(self) -> list[_Item]:
        if self._unsorted:
            self._tickets.sort(key=lambda i: (i.ts, i.key))
            self._unsorted = False
        return self._tickets

    def update_ticket(
        self, ticket_id: str | int, *, updated_at: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change a ticket as Zendesk would: its `generated_timestamp` moves past every
        cursor, so the next export returns it; `updated_at` defaults to that moment but can
        be set older (a replay of an old version)."""
        with self._lock:
            item = self._find(int(ticket_id))
            if item is None:
                raise StopIteration(ticket_id)
            ts = self._bump()
            when = updated_at or datetime.fromtimestamp(ts, UTC)
            item.body.update(fields)
            item.body["updated_at"] = _iso(when)
            item.body["generated_timestamp"] = ts
            item.ts = ts
            self._unsorted = True
            return dict(item.body)

    def delete_ticket(self, ticket_id: str | int) -> dict[str, Any]:
        return self.update_ticket(ticket_id, status="deleted")

    def ticket(self, ticket_id: str | int) -> dict[str, Any]:
        with self._lock:
            item = self._find(int(ticket_id))
            if item is None:
                raise StopIteration(ticket_id)
            return dict(item.body)

    def count(self, path_part: str) -> int:
        """How many received requests had `path_part` in their path."""
        return sum(1 for r in self.requests if path_part in urlsplit(r).path)

    # ------------------------------------------------------------------- serving

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"{self.email}/token:{self.api_token}"

    def _fault(self, path: str) -> tuple[int | None, float]:
        """(status to fail with or None, delay) for the next API request."""
        f = self.faults
        if f.only_paths and not any(p in path for p in f.only_paths):
            return None, 0.0
        with self._lock:
            n = self._served
            self._served += 1
        delay = f.delay if n < f.slow_requests else 0.0
        if n < f.rate_limited:
            return 429, delay
        if n < f.rate_limited + f.server_errors:
            return f.error_status, delay
        return None, delay

    def handle(
        self, path: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any] | Encoded]:
        q = {k: v[-1] for k, v in query.items()}
        route = path.removesuffix(".json")
        with self._lock:
            if route == "/api/v2/incremental/tickets/cursor":
                return self._cursor_export("tickets", self._sorted_tickets(), path, q)
            if route == "/api/v2/incremental/users/cursor":
                return self._cursor_export("users", self._users, path, q)
            if route == "/api/v2/incremental/ticket_events":
                return self._ticket_events(path, q)
            if route == "/api/v2/satisfaction_ratings":
                return self._ratings_page(path, q)
            if route == "/api/v2/users/me":
                # "Show Self": the authenticated API user (the health check's credential test).
                me = {"id": 1, "url": f"{self.base_url}/api/v2/users/1.json", "name": "API user"}
                return 200, {"user": me | {"email": self.email, "role": "admin", "active": True}}
            if route == "/api/v2/users/show_many":
                ids = {
                    int(i) for i in q.get("ids", "").split(",") if i.strip().lstrip("-").isdigit()
                }
                return 200, {"users": [u.body for u in self._users if u.key in ids]}
            if route == "/api/v2/organizations/show_many":
                ids = {int(i) for i in q.get("ids", "").split(",") if i.strip().isdigit()}
                return 200, {"organizations": [o for k, o in self._orgs.items() if k in ids]}
            if match := _TICKET_READ.fullmatch(route):
                return self._ticket_read(int(match.group(1)), bool(match.group(2)), path, q)
        return 404, {"error": "InvalidEndpoint", "description": "Not found"}

    # ------------------------------------------------------------------- updates

    def comments(self, ticket_id: str | int) -> list[dict[str, Any]]:
        """The ticket's comments: the dataset's, then those added through the API."""
        tid = str(ticket_id)
        out = [
            {
                "id": int(c.source_id),
                "type": "Comment",
                "author_id": (
                    SYSTEM_USER_ID
                    if c.author_source_id is None
                    else self._user_ids.get(c.author_source_id, SYSTEM_USER_ID)
                ),
                "body": c.body,
                "html_body": f"<p>{c.body}</p>",
                "plain_body": c.body,
                "public": c.is_public,
                "attachments": [],
                "via": {"channel": "web"},
                "metadata": {},
                "created_at": _iso(c.created_at),
            }
            for c in self.dataset.comments
            if c.ticket_source_id == tid
        ]
        return out + list(self.added_comments.get(int(tid), []))

    def _ticket_read(
        self, ticket_id: int, comments: bool, path: str, q: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        item = self._find(ticket_id)
        if item is None:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        if not comments:
            return 200, {"ticket": dict(item.body)}
        every = self.comments(ticket_id)
        if q.get("sort_order") == "desc":
            every.reverse()
        size = self._limit(q, "per_page")
        page_no = int(q["page"]) if q.get("page", "").isdigit() else 1
        chunk = every[(page_no - 1) * size : page_no * size]
        more = page_no * size < len(every)
        params = {k: v for k, v in q.items() if k != "page"}
        return 200, {
            "comments": chunk,
            "next_page": (
                f"{self.base_url}{path}?{urlencode({**params, 'page': page_no + 1})}"
                if more
                else None
            ),
            "previous_page": None,
            "count": len(every),
        }

    def handle_write(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Apply a ticket update as Zendesk does; the caller has checked auth and faults."""
        match = _TICKET_WRITE.fullmatch(path)
        if method != "PUT" or match is None:
            return 404, {"error": "InvalidEndpoint", "description": "Not found"}
        if not isinstance(body, dict):
            return 400, {"error": "InvalidJSON", "description": "The request body is not JSON"}
        with self._lock:
            item = self._find(int(match.group(1)))
            if item is None:
                return 404, {"error": "RecordNotFound", "description": "Not found"}
            if item.body.get("status") == "closed":
                return 422, {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {
                        "status": [{"description": "Status: closed prevents ticket update"}]
                    },
                }
            if match.group(2):  # Add Tags: union with the ticket's tags
                tags = body.get("tags")
                if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                    return 400, {"error": "InvalidValue", "description": "tags must be a list"}
                merged = list(item.body.get("tags") or [])
                merged += [t for t in tags if t not in merged]
                item.body["tags"] = merged
                self._touch(item)
                return 200, {"tags": merged}
            ticket = body.get("ticket")
            if not isinstance(ticket, dict):
                return 400, {"error": "InvalidValue", "description": "ticket is required"}
            details: dict[str, list[dict[str, str]]] = {}
            if "priority" in ticket and ticket["priority"] not in (*_PRIORITIES, None):
                details["priority"] = [
                    {"description": "Priority: is not valid", "error": "InvalidValue"}
                ]
            comment = ticket.get("comment")
            if comment is not None and not (
                isinstance(comment, dict) and (comment.get("body") or comment.get("html_body"))
            ):
                details["comment"] = [{"description": "Comment: cannot be blank"}]
            if details:
                return 422, {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": details,
                }
            events: list[dict[str, Any]] = []
            if "priority" in ticket and ticket["priority"] != item.body.get("priority"):
                events.append(
                    {
                        "type": "Change",
                        "field_name": "priority",
                        "value": ticket["priority"],
                        "previous_value": item.body.get("priority"),
                    }
                )
                item.body["priority"] = ticket["priority"]
            if isinstance(ticket.get("tags"), list):  # Update Ticket replaces the tags
                item.body["tags"] = list(ticket["tags"])
            if comment is not None:
                self._next_comment_id += 1
                text = str(comment.get("body") or comment.get("html_body"))
                added = {
                    "id": self._next_comment_id,
                    "type": "Comment",
                    "author_id": API_USER_ID,
                    "body": text,
                    "html_body": f"<p>{text}</p>",
                    "plain_body": text,
                    "public": bool(comment.get("public", True)),
                    "attachments": [],
                    "via": {"channel": "api"},
                    "metadata": {},
                    "created_at": _iso(datetime.now(UTC)),
                }
                self.added_comments.setdefault(item.body["id"], []).append(added)
                events.append({"type": "Comment", **added})
            self._touch(item)
            self._next_comment_id += 1
            return 200, {
                "ticket": dict(item.body),
                "audit": {
                    "id": self._next_comment_id,
                    "ticket_id": item.body["id"],
                    "created_at": item.body["updated_at"],
                    "author_id": API_USER_ID,
                    "metadata": {"system": {}, "custom": {}},
                    "via": {"channel": "api"},
                    "events": events,
                },
            }

    def _touch(self, item: _Item) -> None:
        """An update moves the ticket past every export cursor, as in Zendesk."""
        ts = self._bump()
        item.body["updated_at"] = _iso(datetime.fromtimestamp(ts, UTC))
        item.body["generated_timestamp"] = ts
        item.ts = ts
        self._unsorted = True

    def _limit(self, q: dict[str, str], key: str = "per_page") -> int:
        try:
            asked = int(q.get(key, self.page_size))
        except ValueError:
            asked = self.page_size
        return max(1, min(asked, self.page_size))

    def _cursor_export(
        self, name: str, items: list[_Item], path: str, q: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if "cursor" in q:
            position = _decode(q["cursor"])
            if position is None:
                return 400, {"error": "InvalidCursor", "description": "Invalid cursor"}
        elif "start_time" in q and q["start_time"].isdigit():
            position = (int(q["start_time"]), -(2**62))  # everything at or after start_time
        else:
            return 400, {"error": "InvalidValue", "description": "start_time or cursor required"}
        pool = [i for i in items if (i.ts, i.key) > position]
        if name == "tickets" and q.get("exclude_deleted") == "true":
            pool = [i for i in pool if i.body.get("status") != "deleted"]
        page = pool[: self._limit(q)]
        after = _encode(page[-1].ts, page[-1].key) if page else _encode(*position)
        before = _encode(*position)
        body: dict[str, Any] = {
            name: [dict(i.body) for i in page],
            "after_cursor": after,
            "after_url": f"{self.base_url}{path}?{urlencode({'cursor': after})}",
            "before_cursor": before,
            "before_url": f"{self.base_url}{path}?{urlencode({'cursor': before})}",
            "end_of_stream": len(page) == len(pool),
        }
        include = {s.strip() for s in q.get("include", "").split(",")}
        if name == "tickets" and "users" in include:
            wanted = {
                i.body.get(k) for i in page for k in ("requester_id", "assignee_id", "submitter_id")
            }
            body["users"] = [u.body for u in self._users if u.key in wanted]
        if name == "tickets" and "organizations" in include:
            wanted = {i.body.get("organization_id") for i in page}
            body["organizations"] = [o for k, o in self._orgs.items() if k in wanted]
        return 200, body

    def _ticket_events(
        self, path: str, q: dict[str, str], *, encoded: bool = True
    ) -> tuple[int, dict[str, Any] | Encoded]:
        """A page of the events export; with comment events (what the connector asks for)
        and `encoded`, as the JSON bytes joined from the audits encoded once."""
        if not q.get("start_time", "").isdigit():
            return 400, {"error": "InvalidValue", "description": "start_time is required"}
        start = int(q["start_time"])
        comments = "comment_events" in q.get("include", "")
        first = bisect_left(self._events, start, key=lambda i: i.ts)
        last = min(first + self._limit(q), len(self._events))
        # Never split one second across pages: the next page starts at end_time.
        while (
            first < last < len(self._events) and self._events[last].ts == self._events[last - 1].ts
        ):
            last += 1
        page = self._events[first:last]
        end_time = page[-1].ts if page else start
        params = {"start_time": end_time, **({"include": q["include"]} if "include" in q else {})}
        rest = {
            "next_page": f"{self.base_url}{path}?{urlencode(params)}",
            "count": len(page),
            "end_time": end_time,
            "end_of_stream": last == len(self._events),
        }
        if comments and encoded:
            events = ", ".join(item.encoded or json.dumps(item.body) for item in page)
            return 200, Encoded(f'{{"ticket_events": [{events}], {json.dumps(rest)[1:]}'.encode())
        events = []
        for item in page:
            event = dict(item.body)
            children = []
            for child in event["child_events"]:
                if child.get("event_type") == "Comment" and not comments:
                    children.append({"comment_present": True, "comment_public": child["public"]})
                else:
                    children.append(dict(child))
            event["child_events"] = children
            events.append(event)
        return 200, {"ticket_events": events, **rest}

    def _ratings_page(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        pool = self._ratings
        if q.get("start_time", "").isdigit():
            pool = [i for i in pool if i.ts >= int(q["start_time"])]
        if q.get("end_time", "").isdigit():
            pool = [i for i in pool if i.ts <= int(q["end_time"])]
        if "page[size]" not in q:  # offset pagination
            page_no = int(q["page"]) if q.get("page", "").isdigit() else 1
            size = self._limit(q)
            chunk = pool[(page_no - 1) * size : page_no * size]
            more = page_no * size < len(pool)
            params = {k: v for k, v in q.items() if k != "page"}
            return 200, {
                "satisfaction_ratings": [dict(i.body) for i in chunk],
                "next_page": (
                    f"{self.base_url}{path}?{urlencode({**params, 'page': page_no + 1})}"
                    if more
                    else None
                ),
                "previous_page": None,
                "count": len(pool),
            }
        size = self._limit(q, "page[size]")
        if "page[after]" in q:
            position = _decode(q["page[after]"])
            if position is None:
                return 400, {"error": "InvalidPaginationParameter", "description": "bad cursor"}
            pool = [i for i in pool if (i.ts, i.key) > position]
        page = pool[:size]
        has_more = len(page) < len(pool)
        after = _encode(page[-1].ts, page[-1].key) if page else None
        before = _encode(page[0].ts, page[0].key) if page else None
        params = {k: v for k, v in q.items() if k not in ("page[after]", "page[before]")}
        return 200, {
            "satisfaction_ratings": [dict(i.body) for i in page],
            "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
            "links": {
                "next": (
                    f"{self.base_url}{path}?{urlencode({**params, 'page[after]': after})}"
                    if has_more and after
                    else None
                ),
                "prev": None,
            },
        }


def _handler_for(fake: FakeZendesk) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        content_type = "application/json; charset=utf-8"

        def do_GET(self) -> None:
            parts = self._log_get(fake)
            if not fake._authorized(self.headers.get("Authorization")):
                self._send(401, {"error": "Couldn't authenticate you"}, {})
                return
            status, delay = fake._fault(parts.path)
            if delay:
                time.sleep(delay)
            if status == 429:
                headers = retry_after_header(fake.faults.retry_after)
                self._send(429, {"error": "TooManyRequests"}, headers)
                return
            if status is not None:
                self._send(status, {"error": "InternalError"}, {})
                return
            code, body = fake.handle(parts.path, parse_qs(parts.query))
            if isinstance(body, Encoded):
                self._write(code, body.data, self.content_type, {})
            else:
                self._send(code, body, {})

        def do_PUT(self) -> None:
            # Headers and body go out in two writes: without this, each update answer waits
            # ~40 ms for the client's delayed ACK (only update connections are affected).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _, body = self._read_json()
            if isinstance(body, ValueError):
                body = None
            parts = urlsplit(self.path)
            with fake._lock:
                fake.requests.append(self.path)
                fake.writes.append(self._received("PUT", parts.path, body))
            if not fake._authorized(self.headers.get("Authorization")):
                self._send(401, {"error": "Couldn't authenticate you"}, {})
                return
            fault = fake.update_faults.next(parts.path)
            if fault == "rate_limited":
                headers = retry_after_header(fake.update_faults.retry_after)
                self._send(429, {"error": "TooManyRequests"}, headers)
                return
            if fault == "server_error":
                self._send(fake.update_faults.error_status, {"error": "InternalError"}, {})
                return
            code, answer = fake.handle_write("PUT", parts.path, body)
            if fake.update_faults.delay_after_processing:
                time.sleep(fake.update_faults.delay_after_processing)
            if fault == "drop":  # applied, never answered
                self.close_connection = True
                return
            self._send(code, answer, {})

    return Handler


@contextmanager
def serve_fake_zendesk(
    dataset: DemoDataset,
    *,
    port: int = 0,
    faults: FaultPlan | None = None,
    page_size: int = 25,
    email: str = "api@tallybird.example",
    api_token: str = "fake-zendesk-token",
) -> Iterator[FakeZendesk]:
    """Serve `dataset` on 127.0.0.1 (`port=0`: a free port) until the block ends."""
    fake = FakeZendesk(
        dataset, faults=faults or FaultPlan(), page_size=page_size, email=email, api_token=api_token
    )
    with serving(fake, _handler_for(fake), "fake-zendesk", port):
        yield fake
