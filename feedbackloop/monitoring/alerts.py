"""Owner alerts through a Slack incoming webhook (`FEEDBACKLOOP_OWNER_ALERT_WEBHOOK_URL`).

Slack's incoming webhooks take `POST {"text": ...}` and answer `200 ok`; errors come back as
plain-text codes (`invalid_payload`, `no_service`, `channel_is_archived`) with 4xx, and 429
with `Retry-After` when rate limited.
"""

from __future__ import annotations

import logging

import httpx

from feedbackloop.config import Settings, get_settings

log = logging.getLogger(__name__)


class AlertError(RuntimeError):
    """Slack refused or could not be reached; the message never holds the webhook URL."""


def send_owner_alert(message: str, settings: Settings | None = None) -> bool:
    """Post `message` to the owners' channel. Callers mask what they quote (an error, a
    record): masking the whole text here would also mangle the dashboard link's host.
    Returns False when no channel is configured; raises `AlertError` when Slack refuses."""
    settings = settings or get_settings()
    if settings.owner_alert_webhook_url is None:
        log.warning("owner alert not sent: FEEDBACKLOOP_OWNER_ALERT_WEBHOOK_URL is not set")
        return False
    url = settings.owner_alert_webhook_url.get_secret_value()
    try:
        answer = httpx.post(url, json={"text": message}, timeout=10)
    except httpx.HTTPError as exc:
        raise AlertError(f"owner alert: Slack unreachable ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise AlertError(f"owner alert refused: HTTP {answer.status_code} {answer.text[:100]}")
    return True
