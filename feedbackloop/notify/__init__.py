"""Outbound messages and updates: Slack incoming webhooks, Zendesk tickets, HubSpot CRM.

`Targets.from_settings` is the one place the clients are built for an environment (production
URLs or the demo's fakes, by settings). Each client classifies every write as sent, retry,
rejected or unknown (`notify.http`) and can check whether a write already happened, where the
API allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.http import engine_usage_recorder
from feedbackloop.notify.http import JsonApi, Reply
from feedbackloop.notify.hubspot import HubSpotCrm
from feedbackloop.notify.slack import SlackWebhooks
from feedbackloop.notify.zendesk import ZendeskActions

__all__ = ["HubSpotCrm", "JsonApi", "Reply", "SlackWebhooks", "Targets", "ZendeskActions"]


@dataclass
class Targets:
    """The configured action targets; None where a target is not configured."""

    slack: SlackWebhooks | None = None
    zendesk: ZendeskActions | None = None
    hubspot: HubSpotCrm | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, engine: Engine | None = None, **kwargs: Any
    ) -> Targets:
        """Clients for every configured target; with `engine`, each HTTP call is a row in
        `ops.api_usage`. `kwargs` (sleep, timeout, max_wait) go to every client."""
        if engine is not None:
            kwargs.setdefault("on_call", engine_usage_recorder(engine))
        slack = zendesk = hubspot = None
        if settings.slack_webhook_urls:
            urls = {k: v.get_secret_value() for k, v in settings.slack_webhook_urls.items()}
            slack = SlackWebhooks(urls, **kwargs)
        if settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token:
            zendesk = ZendeskActions.from_settings(settings, **kwargs)
        if settings.hubspot_base_url and settings.hubspot_token:
            hubspot = HubSpotCrm.from_settings(settings, **kwargs)
        return cls(slack, zendesk, hubspot)

    def close(self) -> None:
        for client in (self.slack, self.zendesk, self.hubspot):
            if client is not None:
                client.close()

    def __enter__(self) -> Targets:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
