"""Zendesk Support API access: API-token auth, the export and list endpoints, and look-ups of
users and organizations a page references that no side-load explained.

Endpoints (Zendesk Support API, documented shapes):

- `GET /api/v2/incremental/users/cursor.json` and `.../tickets/cursor.json`: cursor-based
  incremental exports (`start_time` first, then `cursor`; `after_cursor`, `end_of_stream`).
  Tickets side-load `users` and `organizations` so requesters and accounts resolve to CRM ids.
- `GET /api/v2/incremental/ticket_events.json?include=comment_events`: time-based export
  (`start_time`; `end_time`, `next_page`, `end_of_stream`).
- `GET /api/v2/satisfaction_ratings.json`: `start_time` + cursor pagination
  (`page[size]`, `page[after]`; `meta.has_more`, `meta.after_cursor`, `links.next`).
- `GET /api/v2/users/show_many.json`, `/api/v2/organizations/show_many.json`: ids a page
  references that no side-load or earlier page explained.

Retries, rate limits, timeouts and API-usage accounting are the HTTP layer's
(`feedbackloop.http`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from feedbackloop.config import ConfigError, Settings
from feedbackloop.http import (
    HttpClient,
    SourceError,
    engine_usage_recorder,
)
from feedbackloop.sources.base import ApiSource
from feedbackloop.sources.zendesk.parsers import SOURCE, Directory

__all__ = ["ZendeskClient", "credentials", "token_auth"]

log = logging.getLogger(__name__)

_SHOW_MANY_LIMIT = 100


def credentials(settings: Settings) -> tuple[str, str, str]:
    """(base URL, API user, API token) from the `FEEDBACKLOOP_ZENDESK_*` settings."""
    settings.require("Zendesk", "zendesk_base_url", "zendesk_email", "zendesk_api_token")
    assert settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token
    return (
        settings.zendesk_base_url,
        settings.zendesk_email,
        settings.zendesk_api_token.get_secret_value(),
    )


def token_auth(email: str, api_token: str) -> httpx.BasicAuth:
    # API token auth: "{email}/token" as the user, the token as the password.
    return httpx.BasicAuth(f"{email}/token", api_token)


class ZendeskClient(ApiSource):
    """Zendesk Support API access plus a `Directory` of users and organizations seen
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
        **http_options: Any,
    ) -> None:
        """`http_options` (timeout, retry, on_call, sleep, rand, transport) go to the
        `HttpClient`."""
        if not base_url or not email or not api_token:
            raise ConfigError("Zendesk needs a base URL, an API user (email) and an API token")
        self.page_size = page_size
        self.start_time = start_time or datetime(1970, 1, 1, tzinfo=UTC)
        self.product_area_field_id = product_area_field_id
        self.ratings_lookback = ratings_lookback
        self.http = HttpClient(SOURCE, base_url, auth=token_auth(email, api_token), **http_options)
        self.directory = Directory()
        self._no_show_many: set[str] = set()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, engine: Engine | None = None, **kwargs: Any
    ) -> ZendeskClient:
        """A client from the `FEEDBACKLOOP_ZENDESK_*` settings; with `engine`, every HTTP
        call is recorded in `ops.api_usage`."""
        found = credentials(settings)
        if engine is not None and "on_call" not in kwargs:
            kwargs["on_call"] = engine_usage_recorder(engine)
        return cls(*found, **kwargs)

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

    # ------------------------------------------------------------------- look-ups

    def _show_many(self, kind: str, ids: list[int]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(ids), _SHOW_MANY_LIMIT):
            chunk = ids[start : start + _SHOW_MANY_LIMIT]
            body = self._get(
                f"/api/v2/{kind}/show_many.json", {"ids": ",".join(str(i) for i in chunk)}
            )
            found = body.get(kind)
            if isinstance(found, list):
                out.extend(found)
        return out

    def _resolve(
        self, kind: str, unknown: list[int], remember: Callable[[Iterable[Any]], None]
    ) -> None:
        """Look up `unknown` ids (one request per 100). An account whose API does not offer
        `show_many` (404) is not asked again: those ids keep `zendesk-<kind>-<id>` names."""
        if not unknown or kind in self._no_show_many:
            return
        try:
            remember(self._show_many(kind, unknown))
        except SourceError as exc:
            if exc.status != 404:
                raise
            self._no_show_many.add(kind)
            log.warning("zendesk: %s/show_many is unavailable; keeping Zendesk ids", kind)

    def resolve_users(self, ids: Iterable[int | None]) -> None:
        known = self.directory.users
        unknown = sorted({i for i in ids if i is not None and i not in known} - {-1})
        self._resolve("users", unknown, self.directory.remember_users)

    def resolve_organizations(self, ids: Iterable[int | None]) -> None:
        known = self.directory.organizations
        unknown = sorted({i for i in ids if i is not None and i not in known})
        self._resolve("organizations", unknown, self.directory.remember_organizations)
