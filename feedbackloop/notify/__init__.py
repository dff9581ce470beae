"""Outbound messages and updates: Slack incoming webhooks, Zendesk tickets, HubSpot CRM.

`Targets.from_settings` is the one place the clients are built for an environment (production
URLs or the demo's fakes, by settings). Each client classifies every write as sent, retry,
rejected or unknown (`notify.http`) and can check whether a write already happened, where the
API allows it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.http import UsageBuffer
from feedbackloop.notify.http import JsonApi, RateLimiter, Reply
from feedbackloop.notify.hubspot import HubSpotCrm
from feedbackloop.notify.slack import SlackWebhooks
from feedbackloop.notify.zendesk import ZendeskActions

log = logging.getLogger(__name__)

__all__ = [
    "HubSpotCrm",
    "JsonApi",
    "RateLimiter",
    "Reply",
    "SlackWebhooks",
    "Targets",
    "ZendeskActions",
]


@dataclass
class Targets:
    """The configured action targets; None where a target is not configured."""

    slack: SlackWebhooks | None = None
    zendesk: ZendeskActions | None = None
    hubspot: HubSpotCrm | None = None
    # With an engine: the calls, written to `ops.api_usage` by the dispatcher with each batch
    # it records, and on close.
    usage: UsageBuffer | None = field(default=None, compare=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, engine: Engine | None = None, **kwargs: Any
    ) -> Targets:
        """Clients for every configured target; with `engine`, each HTTP call is a row in
        `ops.api_usage` (buffered, see `usage`). `kwargs` (sleep, timeout, max_wait) go to
        every client. Writes are spaced by the targets' rate limits in `settings`."""
        usage = None
        if engine is not None and "on_call" not in kwargs:
            usage = UsageBuffer(engine)
            kwargs["on_call"] = usage
        sleep = kwargs.get("sleep", time.sleep)

        def limiter(per_second: float) -> RateLimiter:
            # Without a limit (0) it still holds a target back for a 429's Retry-After.
            return RateLimiter(per_second, sleep=sleep)

        slack = zendesk = hubspot = None
        if settings.slack_webhook_urls:
            urls = {k: v.get_secret_value() for k, v in settings.slack_webhook_urls.items()}
            slack = SlackWebhooks(urls, limiter=limiter(settings.slack_posts_per_second), **kwargs)
        if settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token:
            zendesk = ZendeskActions.from_settings(
                settings, limiter=limiter(settings.zendesk_writes_per_minute / 60.0), **kwargs
            )
        if settings.hubspot_base_url and settings.hubspot_token:
            hubspot = HubSpotCrm.from_settings(
                settings, limiter=limiter(settings.hubspot_requests_per_second), **kwargs
            )
        return cls(slack, zendesk, hubspot, usage)

    def flush_usage(self) -> None:
        """Write the buffered API calls now (their own transaction); never raises."""
        if self.usage is None:
            return
        try:
            self.usage.flush()
        except Exception as exc:  # accounting must not fail a delivery (notify.http)
            log.warning("api usage not recorded (%s)", type(exc).__name__)

    def close(self) -> None:
        self.flush_usage()
        for client in (self.slack, self.zendesk, self.hubspot):
            if client is not None:
                client.close()

    def __enter__(self) -> Targets:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
