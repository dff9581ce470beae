"""Webhook receiver: verified deliveries are stored in `raw.webhook_events` before answering 2xx;
`feedbackloop.sources.webhooks.process_webhook_events` later turns them into raw rows."""

from __future__ import annotations

from feedbackloop.web.app import create_app

__all__ = ["create_app"]
