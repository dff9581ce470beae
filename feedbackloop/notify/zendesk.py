"""Zendesk Support writes: a public comment, tags and the priority of a ticket.

- `PUT /api/v2/tickets/{id}.json` with `{"ticket": {"comment": {"body", "public"}}}` adds a
  comment; with `{"ticket": {"priority": ...}}` sets the priority (low, normal, high, urgent).
- `PUT /api/v2/tickets/{id}/tags.json` with `{"tags": [...]}` adds tags without replacing the
  ticket's others (the Update Ticket endpoint would replace them).
- Reads that check whether a write already happened: `GET /api/v2/tickets/{id}.json` (tags,
  priority) and `GET /api/v2/tickets/{id}/comments.json` (a reply carrying our reference).

Zendesk's `Idempotency-Key` header is documented for ticket creation only (`POST
/api/v2/tickets`); updates accept none, so a comment is made exactly once by reading the
ticket's comments before any second attempt, not by a header. Tags and priority are idempotent
by nature. Authentication: API token, `{email}/token` as user.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from feedbackloop.config import Settings
from feedbackloop.http import SourceError, basic_auth
from feedbackloop.notify.http import Check, JsonApi, Reply
from feedbackloop.sources.zendesk.client import credentials

__all__ = ["Check", "ZendeskActions"]

_COMMENT_PAGES = 20


def _bad_id(ticket_id: str) -> Reply | None:
    if not str(ticket_id).isdigit():
        return Reply("rejected", None, f"not a Zendesk ticket id: {ticket_id!r}")
    return None


class ZendeskActions:
    def __init__(self, base_url: str, email: str, api_token: str, **options: Any) -> None:
        """`options` (on_call, timeout, sleep, max_wait, ...) go to `JsonApi`."""
        # API token auth: "{email}/token" as the user (`token_auth`), sent as a header so both
        # of JsonApi's clients carry it.
        auth = basic_auth(f"{email}/token", api_token)
        self.api = JsonApi("zendesk", base_url, headers={"Authorization": auth}, **options)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ZendeskActions:
        return cls(*credentials(settings), **kwargs)

    def close(self) -> None:
        self.api.close()

    # ------------------------------------------------------------------------- writes

    def _update(self, ticket_id: str, ticket: dict[str, object]) -> Reply:
        return _bad_id(ticket_id) or self.api.request(
            "PUT",
            f"/api/v2/tickets/{ticket_id}.json",
            endpoint="/api/v2/tickets/{id}.json",
            json_body={"ticket": ticket},
        )

    def add_comment(self, ticket_id: str, body: str, *, public: bool = True) -> Reply:
        return self._update(ticket_id, {"comment": {"body": body, "public": public}})

    def set_priority(self, ticket_id: str, priority: str) -> Reply:
        return self._update(ticket_id, {"priority": priority})

    def add_tags(self, ticket_id: str, tags: Iterable[str]) -> Reply:
        return _bad_id(ticket_id) or self.api.request(
            "PUT",
            f"/api/v2/tickets/{ticket_id}/tags.json",
            endpoint="/api/v2/tickets/{id}/tags.json",
            json_body={"tags": list(tags)},
        )

    # -------------------------------------------------------------------------- reads

    def _ticket(self, ticket_id: str) -> dict[str, object] | None:
        try:
            body = self.api.get_json(f"/api/v2/tickets/{ticket_id}.json")
        except SourceError:
            return None
        ticket = body.get("ticket") if isinstance(body, dict) else None
        return ticket if isinstance(ticket, dict) else None

    def has_tags(self, ticket_id: str, tags: Iterable[str]) -> Check:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            return "unknown"
        present = set(ticket.get("tags") or [])  # type: ignore[arg-type]
        return "applied" if set(tags) <= present else "absent"

    def has_priority(self, ticket_id: str, priority: str) -> Check:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            return "unknown"
        return "applied" if ticket.get("priority") == priority else "absent"

    def has_comment_with(self, ticket_id: str, marker: str) -> Check:
        """Is there a comment containing `marker` (an action's reference)? Newest first."""
        url: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        params: dict[str, object] | None = {"sort_order": "desc"}
        try:
            for _ in range(_COMMENT_PAGES):
                assert url is not None
                body = self.api.get_json(url, params)
                for comment in body.get("comments") or []:
                    text = f"{comment.get('body') or ''}\n{comment.get('plain_body') or ''}"
                    if marker in text:
                        return "applied"
                url, params = body.get("next_page"), None  # next_page carries its query
                if not url:
                    return "absent"
        except (SourceError, AttributeError):
            return "unknown"
        return "unknown"  # more pages than we read: cannot say
