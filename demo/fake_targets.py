"""Fake action targets over real HTTP on 127.0.0.1: Slack incoming webhooks and HubSpot CRM v3.

Slack (incoming webhooks): `POST /services/T.../B.../<secret>` per channel with JSON `text`
and/or `blocks`; `200 ok` (plain text); `400 invalid_payload` (not JSON), `400 no_text`
(neither text nor blocks), `404 no_service` (unknown hook), `410 channel_is_archived`,
`500 rollup_error`, `429` with `Retry-After`.

HubSpot (Bearer private-app token, `401` `INVALID_AUTHENTICATION` otherwise):
- `POST /crm/v3/objects/tasks`: `properties` (`hs_timestamp` required; `hs_task_status`,
  `hs_task_priority`, `hs_task_type` checked against their options) and `associations`
  (`to.id`, `types[].associationCategory`, `types[].associationTypeId`) -> `201` with the task;
- `POST /crm/v3/objects/tasks/search`: `filterGroups` with `EQ`/`CONTAINS_TOKEN` filters ->
  `{"total", "results"}`;
- `PATCH /crm/v3/objects/contacts/{id}` and `GET /crm/v3/objects/contacts/{id}?properties=`.
Errors: `{"status": "error", "message", "correlationId", "category"}`.

`WriteFaults` (shared with the fake Zendesk's write endpoints) injects, in order: 429s with or
without `Retry-After`, 5xx, and answers dropped after the request was processed (the server
applies the write, then closes the connection without answering: what a client sees when the
network or its own process dies at the worst moment), and a delay after processing. Every
request received is recorded, so tests count deliveries.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from demo.fake_http import JsonHandler, Received, WriteFaults, retry_after_header, serving

__all__ = [
    "FakeHubSpot",
    "FakeSlack",
    "FakeTargets",
    "Received",
    "WriteFaults",
    "received_json",
    "serve_fake_hubspot",
    "serve_fake_slack",
    "serve_fake_targets",
]


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


class _Handler(JsonHandler):
    """Reads the body, records the request, applies faults; subclasses answer."""

    fake: Any = None
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True

    def _text(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        self._write(status, body.encode(), "text/html", headers or {})

    def _drop(self) -> None:
        """Applied, never answered: close the connection without a response."""
        self.close_connection = True

    def _handle(self, method: str) -> None:
        _, body = self._read_json()
        parts = urlsplit(self.path)
        fake = self.fake
        fake._record(self._received(method, parts.path, body))
        fault = fake.faults.next(parts.path) if method != "GET" else None
        if fault == "rate_limited":
            fake._answer_rate_limited(self, retry_after_header(fake.faults.retry_after))
            return
        if fault == "server_error":
            fake._answer_error(self, fake.faults.error_status)
            return
        fake.dispatch(self, method, parts.path, parse_qs(parts.query), body)
        # `dispatch` applied the request and stored its answer in `self._pending`.
        if method != "GET" and fake.faults.delay_after_processing:
            time.sleep(fake.faults.delay_after_processing)
        if fault == "drop":
            self._drop()
            return
        kind, status, payload, headers = self._pending
        if kind == "json":
            self._send(status, payload, headers)
        else:
            self._text(status, payload, headers)

    def answer(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        *,
        text: bool = False,
    ) -> None:
        self._pending = ("text" if text else "json", status, payload, headers or {})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


class _Fake:
    base_url: str = ""
    faults: WriteFaults

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        self.faults = WriteFaults()

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def count(self, method: str, path_part: str = "") -> int:
        return sum(1 for r in self.requests if r.method == method and path_part in r.path)


# --------------------------------------------------------------------------------- Slack


class FakeSlack(_Fake):
    """Incoming webhooks for a set of channels; `messages[channel]` holds what was posted."""

    def __init__(self, channels: tuple[str, ...], archived: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.team = "T" + secrets.token_hex(4).upper()
        self.hooks = {
            ch: f"/services/{self.team}/B{secrets.token_hex(4).upper()}/{secrets.token_hex(12)}"
            for ch in (*channels, *archived)
        }
        self.archived = set(archived)
        self.messages: dict[str, list[dict[str, Any]]] = {ch: [] for ch in self.hooks}

    @property
    def urls(self) -> dict[str, str]:
        return {ch: self.base_url + path for ch, path in self.hooks.items()}

    def posted(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages[channel])

    def _answer_rate_limited(self, handler: _Handler, headers: dict[str, str]) -> None:
        handler._text(429, "rate_limited", headers)

    def _answer_error(self, handler: _Handler, status: int) -> None:
        handler._text(status, "rollup_error")

    def dispatch(
        self, handler: _Handler, method: str, path: str, query: dict[str, Any], body: Any
    ) -> None:
        channel = next((ch for ch, p in self.hooks.items() if p == path), None)
        if method != "POST" or channel is None:
            handler.answer(404, "no_service", text=True)
        elif isinstance(body, Exception) or not isinstance(body, dict):
            handler.answer(400, "invalid_payload", text=True)
        elif not body.get("text") and not body.get("blocks"):
            handler.answer(400, "no_text", text=True)
        elif channel in self.archived:
            handler.answer(410, "channel_is_archived", text=True)
        else:
            with self._lock:
                self.messages[channel].append(body)
            handler.answer(200, "ok", text=True)


# ------------------------------------------------------------------------------- HubSpot

_STATUSES = {"NOT_STARTED", "COMPLETED", "IN_PROGRESS", "WAITING", "DEFERRED"}
_PRIORITIES = {"LOW", "MEDIUM", "HIGH"}
_TYPES = {"TODO", "CALL", "EMAIL"}


class FakeHubSpot(_Fake):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.tasks: list[dict[str, Any]] = []
        self.contacts: dict[str, dict[str, str]] = {}
        self._next_id = 51_000_000

    def _error(self, status: int, category: str, message: str) -> dict[str, Any]:
        return {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
        }

    def _answer_rate_limited(self, handler: _Handler, headers: dict[str, str]) -> None:
        body = self._error(429, "RATE_LIMITS", "You have reached your secondly limit.")
        handler._send(429, {**body, "errorType": "RATE_LIMIT", "policyName": "SECONDLY"}, headers)

    def _answer_error(self, handler: _Handler, status: int) -> None:
        handler._send(status, self._error(status, "INTERNAL_ERROR", "internal error"), {})

    def dispatch(
        self, handler: _Handler, method: str, path: str, query: dict[str, Any], body: Any
    ) -> None:
        auth = handler.headers.get("Authorization") or ""
        if auth != f"Bearer {self.token}":
            handler.answer(
                401,
                self._error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found.",
                ),
            )
            return
        if isinstance(body, Exception):
            handler.answer(400, self._error(400, "VALIDATION_ERROR", "Invalid input JSON"))
            return
        with self._lock:
            if method == "POST" and path == "/crm/v3/objects/tasks":
                handler.answer(*self._create_task(body))
            elif method == "POST" and path == "/crm/v3/objects/tasks/search":
                handler.answer(*self._search(body))
            elif path.startswith("/crm/v3/objects/contacts/") and method in ("PATCH", "GET"):
                contact_id = unquote(path.rsplit("/", 1)[1])
                handler.answer(*self._contact(method, contact_id, query, body))
            else:
                handler.answer(404, self._error(404, "OBJECT_NOT_FOUND", "resource not found"))

    def _create_task(self, body: Any) -> tuple[int, dict[str, Any]]:
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            return 400, self._error(400, "VALIDATION_ERROR", "properties is required")
        problems = []
        if not props.get("hs_timestamp"):
            problems.append("hs_timestamp is required")
        for name, allowed in (
            ("hs_task_status", _STATUSES),
            ("hs_task_priority", _PRIORITIES),
            ("hs_task_type", _TYPES),
        ):
            if name in props and props[name] not in allowed:
                problems.append(f"{props[name]} was not one of the allowed options for {name}")
        for assoc in body.get("associations") or []:
            types = assoc.get("types") if isinstance(assoc, dict) else None
            if not (isinstance(assoc, dict) and isinstance(assoc.get("to"), dict)) or not types:
                problems.append("association needs to.id and types")
                continue
            for t in types:
                if t.get("associationCategory") not in ("HUBSPOT_DEFINED", "USER_DEFINED"):
                    problems.append("invalid associationCategory")
                if not isinstance(t.get("associationTypeId"), int):
                    problems.append("invalid associationTypeId")
        if problems:
            return 400, self._error(400, "VALIDATION_ERROR", "; ".join(problems))
        self._next_id += 1
        now = _now_iso()
        task = {
            "id": str(self._next_id),
            "properties": {k: str(v) for k, v in props.items()},
            "associations": body.get("associations") or [],
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self.tasks.append(task)
        return 201, {k: v for k, v in task.items() if k != "associations"}

    def _search(self, body: Any) -> tuple[int, dict[str, Any]]:
        groups = body.get("filterGroups") if isinstance(body, dict) else None
        if not isinstance(groups, list):
            return 400, self._error(400, "VALIDATION_ERROR", "filterGroups is required")

        def holds(task: dict[str, Any], f: dict[str, Any]) -> bool:
            value = task["properties"].get(f.get("propertyName"))
            if f.get("operator") == "EQ":
                return value == f.get("value")
            if f.get("operator") == "CONTAINS_TOKEN":
                return value is not None and str(f.get("value")) in value.split()
            return False

        found = [
            t
            for t in self.tasks
            if not groups or any(all(holds(t, f) for f in g.get("filters", [])) for g in groups)
        ]
        limit = int(body.get("limit") or 10)
        wanted = body.get("properties") or []
        results = [
            {
                "id": t["id"],
                "properties": {k: v for k, v in t["properties"].items() if k in wanted},
                "createdAt": t["createdAt"],
                "updatedAt": t["updatedAt"],
                "archived": False,
            }
            for t in found[:limit]
        ]
        return 200, {"total": len(found), "results": results}

    def _contact(
        self, method: str, contact_id: str, query: dict[str, Any], body: Any
    ) -> tuple[int, dict[str, Any]]:
        now = _now_iso()
        if method == "PATCH":
            props = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict):
                return 400, self._error(400, "VALIDATION_ERROR", "properties is required")
            self.contacts.setdefault(contact_id, {}).update({k: str(v) for k, v in props.items()})
        wanted = ",".join(query.get("properties", [])).split(",")
        props = self.contacts.get(contact_id, {})
        return 200, {
            "id": contact_id,
            "properties": {k: props.get(k) for k in wanted if k} if method == "GET" else props,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }


# ------------------------------------------------------------------------------- serving


def _serve(fake: _Fake, name: str) -> AbstractContextManager[Any]:
    return serving(fake, type(f"{name}Handler", (_Handler,), {"fake": fake}), name)


@contextmanager
def serve_fake_slack(
    channels: tuple[str, ...] = ("escalations", "billing", "product-feedback", "ops-alerts"),
    *,
    archived: tuple[str, ...] = (),
) -> Iterator[FakeSlack]:
    with _serve(FakeSlack(channels, archived), "fake-slack") as fake:
        yield fake


@contextmanager
def serve_fake_hubspot(token: str = "fake-hubspot-token") -> Iterator[FakeHubSpot]:
    with _serve(FakeHubSpot(token), "fake-hubspot") as fake:
        yield fake


@dataclass
class FakeTargets:
    slack: FakeSlack
    hubspot: FakeHubSpot
    zendesk: Any = None  # a FakeZendesk, with `demo.sources.serve_routing_fakes`

    @property
    def settings(self) -> dict[str, str]:
        """Settings (names without the prefix, for `settings_overridden`) pointing the routing
        targets at the fakes; failed actions alert the `ops-alerts` channel when there is one."""
        values = {
            "slack_webhook_urls": json.dumps(self.slack.urls),
            "hubspot_base_url": self.hubspot.base_url,
            "hubspot_token": self.hubspot.token,
        }
        if "ops-alerts" in self.slack.hooks:
            values["routing_alert_channel"] = "ops-alerts"
        # The fakes have no rate limits: the dispatcher need not space its writes to them.
        values |= {
            "slack_posts_per_second": "0",
            "zendesk_writes_per_minute": "0",
            "hubspot_requests_per_second": "0",
        }
        if self.zendesk is not None:
            values |= {
                "zendesk_base_url": self.zendesk.base_url,
                "zendesk_email": self.zendesk.email,
                "zendesk_api_token": self.zendesk.api_token,
            }
        return values


@contextmanager
def serve_fake_targets(
    channels: tuple[str, ...] = ("escalations", "billing", "product-feedback", "ops-alerts"),
) -> Iterator[FakeTargets]:
    """Both fakes, until the block ends."""
    with ExitStack() as stack:
        slack = stack.enter_context(serve_fake_slack(channels))
        hubspot = stack.enter_context(serve_fake_hubspot())
        yield FakeTargets(slack, hubspot)


def received_json(fake: _Fake, method: str, path_part: str = "") -> list[Any]:
    """Bodies of the requests received with that method and path part."""
    return [r.body for r in fake.requests if r.method == method and path_part in r.path]
