"""Zendesk streams into `raw`, incrementally and exactly once: users, tickets, ticket events
(comments and status changes) and satisfaction ratings.

Guarantees (the commit is `feedbackloop.sources.base.commit_batch`):

- Every page's rows and that stream's cursor (`ops.sync_state`, source 'zendesk') commit in
  one transaction: a crash anywhere and a rerun store every record exactly once.
- Upsert by source id, newest `updated_at` wins; rows no newer than the stored version are not
  written at all (a rerun with nothing new writes nothing).
- Free text is masked before it is stored or logged; email addresses are only kept as a keyed
  hash; quarantined payloads are masked and user payloads stripped of names.
- A record that cannot be parsed goes to `ops.quarantine` with its reason; the rest of the
  page loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine

from feedbackloop.db import models as m
from feedbackloop.forked import Forked, can_fork, fork_call
from feedbackloop.http import SourceError
from feedbackloop.sources.base import Pages, SyncHooks, SyncResult, sync_stream
from feedbackloop.sources.zendesk import parsers as p
from feedbackloop.sources.zendesk.client import ZendeskClient
from feedbackloop.sources.zendesk.parsers import SOURCE, Batch, Invalid

STREAM_USERS = "users"
STREAM_TICKETS = "tickets"
STREAM_TICKET_EVENTS = "ticket_events"
STREAM_RATINGS = "satisfaction_ratings"
# Order matters for a full run: users first, so authors and requesters resolve from memory.
STREAMS = (STREAM_USERS, STREAM_TICKETS, STREAM_TICKET_EVENTS, STREAM_RATINGS)
_ENDPOINTS = {
    STREAM_USERS: "/api/v2/incremental/users/cursor.json",
    STREAM_TICKETS: "/api/v2/incremental/tickets/cursor.json",
    STREAM_TICKET_EVENTS: "/api/v2/incremental/ticket_events.json",
    STREAM_RATINGS: "/api/v2/satisfaction_ratings.json",
}


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


# ------------------------------------------------------------------------------ batches


def _ticket_batch(client: ZendeskClient, body: Mapping[str, Any]) -> Batch:
    tickets = p.items(body, "tickets", _ENDPOINTS[STREAM_TICKETS])
    client.directory.remember_users(p.items(body, "users", "tickets side-load"))
    client.directory.remember_organizations(p.items(body, "organizations", "tickets side-load"))
    client.resolve_users(p.safe_ids(tickets, ("requester_id", "assignee_id")))
    client.resolve_organizations(p.safe_ids(tickets, ("organization_id",)))
    batch = Batch()
    for rec in tickets:
        try:
            row = p.ticket_row(
                rec,
                batch.masker,
                client.directory,
                product_area_field_id=client.product_area_field_id,
            )
        except Invalid as exc:
            batch.reject("tickets", rec, str(exc))
            continue
        batch.add(m.Ticket, row)
    return batch


def _user_batch(
    client: ZendeskClient,
    body: Mapping[str, Any],
    hash_key: bytes,
    deliverability: bool,
    dns_timeout: float,
) -> Batch:
    users = p.items(body, "users", _ENDPOINTS[STREAM_USERS])
    client.directory.remember_users(users)
    client.resolve_organizations(p.safe_ids(users, ("organization_id",)))
    batch = Batch()
    for rec in users:
        try:
            row = p.contact_row(client.directory, rec, hash_key, deliverability, dns_timeout)
        except Invalid as exc:
            batch.reject("contacts", rec, str(exc), user=True)
            continue
        if row is not None:
            batch.add(m.Contact, row)
    return batch


def _event_batch(client: ZendeskClient, body: Mapping[str, Any]) -> Batch:
    events = p.items(body, "ticket_events", _ENDPOINTS[STREAM_TICKET_EVENTS])
    comments = [
        child
        for audit_event in events
        if isinstance(audit_event, Mapping)
        for child in audit_event.get("child_events") or []
        if isinstance(child, Mapping) and p.event_kind(child) == "Comment"
    ]
    client.resolve_users(p.safe_ids(comments, ("author_id",)))
    batch = Batch()
    for audit_event in events:
        p.audit_rows(client.directory, audit_event, batch)
    return batch


def _rating_batch(client: ZendeskClient, body: Mapping[str, Any]) -> Batch:
    ratings = p.items(body, "satisfaction_ratings", _ENDPOINTS[STREAM_RATINGS])
    client.resolve_users(p.safe_ids(ratings, ("requester_id",)))
    batch = Batch()
    for rec in ratings:
        try:
            row = p.rating_row(client.directory, rec, batch.masker)
        except Invalid as exc:
            batch.reject("satisfaction_ratings", rec, str(exc))
            continue
        batch.add(m.SatisfactionRating, row)
    return batch


# -------------------------------------------------------------------------------- syncs


def _stalled(stream: str) -> SourceError:
    return SourceError(SOURCE, _ENDPOINTS[stream], 200, f"{stream} pagination did not advance")


def _cursor_export(
    client: ZendeskClient,
    stream: str,
    fetch: Callable[..., dict[str, Any]],
    build: Callable[[dict[str, Any]], Batch],
) -> Callable[[str | None, dict[str, Any]], Pages]:
    """Cursor-based incremental export: `start_time` once, then the stored `after_cursor`."""

    def pages(cursor: str | None, state: dict[str, Any]) -> Pages:
        start_time = _epoch(client.start_time)
        while True:
            body = fetch(cursor=cursor, start_time=start_time)
            batch = build(body)
            after = body.get("after_cursor")
            after = after if isinstance(after, str) and after else cursor
            end = bool(body.get("end_of_stream"))
            yield batch, after, {**state, "end_of_stream": end}
            if end or after is None:
                return
            if after == cursor:
                raise _stalled(stream)
            cursor = after

    return pages


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
    pages = _cursor_export(
        client,
        STREAM_USERS,
        client.export_users,
        lambda body: _user_batch(client, body, hash_key, email_deliverability, email_dns_timeout),
    )
    return sync_stream(
        engine, client, SOURCE, STREAM_USERS, pages, hooks=hooks, actor=actor, hash_key=hash_key
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
    pages = _cursor_export(
        client, STREAM_TICKETS, client.export_tickets, lambda body: _ticket_batch(client, body)
    )
    return sync_stream(
        engine, client, SOURCE, STREAM_TICKETS, pages, hooks=hooks, actor=actor, hash_key=hash_key
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

    def pages(_cursor: str | None, state: dict[str, Any]) -> Pages:
        start = int(state.get("start_time", _epoch(client.start_time)))
        while True:
            body = client.export_ticket_events(start_time=start)
            batch = _event_batch(client, body)
            next_start = _next_start_time(body, start)
            end = bool(body.get("end_of_stream"))
            events = body.get("ticket_events") or []
            yield batch, str(next_start), {"start_time": next_start, "end_of_stream": end}
            if end or not events:
                return
            if next_start <= start:
                raise _stalled(STREAM_TICKET_EVENTS)
            start = next_start

    stream = STREAM_TICKET_EVENTS
    return sync_stream(
        engine, client, SOURCE, stream, pages, hooks=hooks, actor=actor, hash_key=hash_key
    )


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

    def pages(_cursor: str | None, state: dict[str, Any]) -> Pages:
        window = int(state.get("start_time", _epoch(client.start_time)))
        newest = int(state.get("newest_created", window))
        pending = state.get("next")
        params: dict[str, Any] = (
            dict(pending) if isinstance(pending, dict) else client.ratings_params(window)
        )
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
            after = next_params.get("page[after]") if next_params else None
            yield batch, after, new_state
            if next_params is None:
                return
            if next_params == params:
                raise _stalled(STREAM_RATINGS)
            params = next_params

    stream = STREAM_RATINGS
    return sync_stream(
        engine, client, SOURCE, stream, pages, hooks=hooks, actor=actor, hash_key=hash_key
    )


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


_SYNCS: dict[str, Callable[..., SyncResult]] = {
    STREAM_USERS: sync_users,
    STREAM_TICKETS: sync_tickets,
    STREAM_TICKET_EVENTS: sync_ticket_events,
    STREAM_RATINGS: sync_satisfaction_ratings,
}


def fork_stream(
    stream: str, engine: Engine, client: ZendeskClient, **kwargs: Any
) -> Forked[SyncResult]:
    """One stream's sync (`kwargs` as its function takes them) started in a forked child
    (`feedbackloop.forked`), which inherits the client's user directory and gets connections
    of its own, database and HTTP. Its pages commit exactly as in this process; its
    `SyncResult` (API calls, quarantined rows the gate refused) comes back whole. Wait for it
    with `join()`, from the thread that called this."""
    return fork_call(
        _sync_in_child, stream, engine, client, engines=[engine], name=stream, **kwargs
    )


def _sync_in_child(stream: str, engine: Engine, client: ZendeskClient, **kwargs: Any) -> SyncResult:
    client.after_fork()
    return _SYNCS[stream](engine, client, **kwargs)


def sync_all(
    engine: Engine,
    client: ZendeskClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop zendesk",
    email_deliverability: bool = False,
    email_dns_timeout: float = 2.0,
    hooks: SyncHooks | None = None,
    workers: int = 2,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, SyncResult]:
    """Every stream in dependency order (users first, so ids resolve from memory).

    With `workers` > 1 (where `can_fork()`), ticket events, two thirds of the CPU, run in a
    forked child once users are in the directory it inherits, while this process syncs
    tickets and then ratings; the streams share no cursor and no row, so the result is the
    sequential one. A failure here ends the child (its committed pages stay; a rerun resumes
    after them); the child's failure is raised here once the other streams are done.
    `meanwhile`: other work for this process, run after its own streams while the child still
    syncs (after every stream with one worker)."""
    common: dict[str, Any] = {"hash_key": hash_key, "actor": actor, "hooks": hooks}
    users = sync_users(
        engine,
        client,
        email_deliverability=email_deliverability,
        email_dns_timeout=email_dns_timeout,
        **common,
    )
    if workers <= 1 or not can_fork():
        synced = {
            STREAM_USERS: users,
            STREAM_TICKETS: sync_tickets(engine, client, **common),
            STREAM_TICKET_EVENTS: sync_ticket_events(engine, client, **common),
            STREAM_RATINGS: sync_satisfaction_ratings(engine, client, **common),
        }
        if meanwhile is not None:
            meanwhile()
        return synced
    events = fork_stream(STREAM_TICKET_EVENTS, engine, client, **common)
    try:
        tickets = sync_tickets(engine, client, **common)
        ratings = sync_satisfaction_ratings(engine, client, **common)
        if meanwhile is not None:
            meanwhile()
    except BaseException:
        events.kill()
        raise
    return {
        STREAM_USERS: users,
        STREAM_TICKETS: tickets,
        STREAM_TICKET_EVENTS: events.join(),
        STREAM_RATINGS: ratings,
    }
