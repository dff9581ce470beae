"""Zendesk Support connector: users, tickets, ticket events (comments and status changes) and
satisfaction ratings into `raw`, incrementally and exactly once.

`client` talks to the API, `parsers` turns its records (and webhook events' tickets) into raw
rows, `sync` walks the streams and commits each page with its cursor (`sources.base`).
"""

from feedbackloop.sources.base import SyncHook, SyncHooks, SyncPoint, SyncResult
from feedbackloop.sources.zendesk.client import ZendeskClient
from feedbackloop.sources.zendesk.parsers import SOURCE, UserRef
from feedbackloop.sources.zendesk.sync import (
    STREAM_RATINGS,
    STREAM_TICKET_EVENTS,
    STREAM_TICKETS,
    STREAM_USERS,
    STREAMS,
    fork_stream,
    sync_all,
    sync_satisfaction_ratings,
    sync_ticket_events,
    sync_tickets,
    sync_users,
)

__all__ = [
    "SOURCE",
    "STREAMS",
    "STREAM_RATINGS",
    "STREAM_TICKETS",
    "STREAM_TICKET_EVENTS",
    "STREAM_USERS",
    "SyncHook",
    "SyncHooks",
    "SyncPoint",
    "SyncResult",
    "UserRef",
    "ZendeskClient",
    "fork_stream",
    "sync_all",
    "sync_satisfaction_ratings",
    "sync_ticket_events",
    "sync_tickets",
    "sync_users",
]
