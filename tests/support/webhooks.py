"""Signed deliveries to the webhook app, in the shapes the senders use: Zendesk's
(`x-zendesk-webhook-*`), Segment's (`x-signature`) and the generic one for every other source
(`x-feedbackloop-*`)."""

from __future__ import annotations

from contextlib import AbstractContextManager

import httpx
from fastapi import FastAPI

from feedbackloop.web.app import generic_signature, zendesk_signature
from feedbackloop.web.segment import segment_signature
from feedbackloop.web.server import serve_app


def serve_webhooks(app: FastAPI) -> AbstractContextManager[str]:
    """The webhook app under uvicorn on a free port of 127.0.0.1; its base URL."""
    return serve_app(app, name="webhooks-uvicorn")


def post_zendesk(
    base: str, body: bytes, stamp: str, secret: str, invocation: str | None = None
) -> httpx.Response:
    """`body` signed with `secret` at `stamp`; no invocation id when None."""
    headers = {
        "content-type": "application/json",
        "x-zendesk-webhook-signature": zendesk_signature(secret, stamp, body),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }
    if invocation is not None:
        headers["x-zendesk-webhook-invocation-id"] = invocation
    return httpx.post(f"{base}/webhooks/zendesk", content=body, headers=headers, timeout=30)


def post_generic(
    base: str, source: str, body: bytes, stamp: str, secret: str, delivery: str | None = None
) -> httpx.Response:
    """`body` to `/webhooks/<source>` signed with `secret` at `stamp`; no delivery id when
    None."""
    headers = {
        "x-feedbackloop-signature": generic_signature(secret, stamp, body),
        "x-feedbackloop-timestamp": stamp,
    }
    if delivery is not None:
        headers["x-feedbackloop-delivery"] = delivery
    return httpx.post(f"{base}/webhooks/{source}", content=body, headers=headers, timeout=30)


def post_segment(base: str, body: bytes, secret: str) -> httpx.Response:
    """`body` to `/webhooks/segment`, signed as Segment's webhook destination signs it."""
    headers = {"content-type": "application/json", "x-signature": segment_signature(secret, body)}
    return httpx.post(f"{base}/webhooks/segment", content=body, headers=headers, timeout=30)
