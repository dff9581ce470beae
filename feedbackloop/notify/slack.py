"""Slack incoming webhooks: one URL per channel, `POST {"text", "blocks"}`.

Slack answers `200 ok` (plain text); errors are plain-text codes (`invalid_payload`,
`no_text`, `no_service`, `channel_is_archived`, `action_prohibited`, ...) with 4xx, `rollup_error`
with 500, and 429 with `Retry-After`. Incoming webhooks have no idempotency key and no way to
read back what was posted: the dispatcher never resends a message whose delivery is unknown
(at most once; docs/decisions.md).

The webhook URL is a credential: it is used here and nowhere else (usage rows and logs name the
channel, never the URL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from feedbackloop.http import UsageRecorder
from feedbackloop.notify.http import JsonApi, RateLimiter, Reply

__all__ = ["SlackWebhooks", "alert_blocks"]


def alert_blocks(text: str, context: str | None = None) -> list[dict[str, Any]]:
    """A section with the message and an optional context line (Block Kit)."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    ]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return blocks


class SlackWebhooks:
    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        on_call: UsageRecorder | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 30.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        """`limiter`: Slack's limit is per webhook, so its key is the webhook's URL. One
        client per webhook: concurrent posts to several keep few connections per pool (httpx
        checks every idle connection of a pool on each request)."""
        self.urls = dict(urls)
        self._options: dict[str, Any] = {
            "on_call": on_call,
            "timeout": timeout,
            "sleep": sleep,
            "max_wait": max_wait,
            "limiter": limiter,
        }
        self._apis: dict[str, JsonApi] = {}
        self._lock = threading.Lock()

    def _api(self, url: str) -> JsonApi:
        with self._lock:
            if url not in self._apis:
                self._apis[url] = JsonApi("slack", **self._options)
            return self._apis[url]

    def close(self) -> None:
        with self._lock:
            apis, self._apis = list(self._apis.values()), {}
        for api in apis:
            api.close()

    def has(self, channel: str) -> bool:
        return channel in self.urls

    def post(self, channel: str, text: str, *, context: str | None = None) -> Reply:
        url = self.urls.get(channel)
        if url is None:
            return Reply("rejected", None, f"no incoming-webhook URL for channel #{channel}")
        # `text` is the notification and accessibility fallback when `blocks` are given.
        body = {"text": text, "blocks": alert_blocks(text, context)}
        return self._api(url).request(
            "POST", url, endpoint=f"incoming-webhook #{channel}", json_body=body, limit_key=url
        )
