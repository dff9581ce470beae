"""`POST /webhooks/segment`: product events from Segment's webhook destination.

Signed as Segment's Webhooks destination signs with a shared secret: header ``X-Signature`` is
the hex HMAC-SHA1 of the raw body, keyed with ``FEEDBACKLOOP_SEGMENT_SHARED_SECRET``. Without a
secret the endpoint answers 404 to everyone (and says why in the log, once): nothing unsigned
is ever accepted.

The protections of the Zendesk endpoint: a signature missing or of the wrong shape is refused
before the body is read; the body is streamed under `MAX_BODY_BYTES` (413); the signature is
compared in constant time (401); every refusal is one log line, repeats summarised
(`limits.RepeatLog`); bodies are never logged. Segment signs no timestamp, so there is no
replay window: a replayed call is stored once because `raw.segment_events` is unique on its
``messageId``.

A body is one call or the batch shape ``{"batch": [...]}``. Its calls are stored (or
quarantined with the reason, `sources.segment`) and committed before the answer:
200 ``{"status": "stored", "stored": n, "duplicate": n, "quarantined": n}``; 400 when no call
of the body could be used (each one quarantined, so a retry changes nothing); 503 with
``Retry-After`` while the database is down (nothing acknowledged, Segment retries).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.sources.base import Invalid
from feedbackloop.sources.segment import SOURCE, Intake, calls_of, store_calls
from feedbackloop.web.limits import Refusals, read_capped

__all__ = ["MAX_BODY_BYTES", "PATH", "mount_segment", "segment_signature"]

log = logging.getLogger(__name__)

PATH = "/webhooks/segment"
SIGNATURE = "x-signature"
# Segment's batches hold up to a few thousand small calls; the HTTP API caps a batch at 500 KB.
MAX_BODY_BYTES = 1_000_000
_HEX_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def segment_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA1 of the raw body, as Segment's webhook destination signs it."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify_segment_signature(secret: str, body: bytes, signature: str) -> bool:
    expected = segment_signature(secret, body).encode()
    return hmac.compare_digest(expected, signature.strip().lower().encode())


def _store(engine: Engine, calls: list[object], key: bytes) -> Intake:
    with engine.begin() as conn:
        return store_calls(conn, calls, key=key, received=datetime.now(UTC))


def mount_segment(
    app: FastAPI,
    settings: Settings,
    engine: Engine,
    *,
    park_body: Callable[[Engine, str, str, str, bytes], bool],
    on_stored: Callable[[str], None] | None = None,
) -> None:
    """Add the route; call it before the generic ``/webhooks/{source}`` route is added.
    `park_body(engine, source, delivery id, reason, body)` quarantines an unreadable body (the
    webhook app's rule, so every endpoint parks them alike)."""
    configured = settings.segment_shared_secret
    secret = configured.get_secret_value() if configured is not None else ""
    hash_key = settings.hash_key()
    refusals = Refusals(log, "segment events refused")
    rejects, outage, refuse = refusals.rejects, refusals.outage, refusals.refuse
    told = threading.Event()

    async def park(reason: str, body: bytes) -> JSONResponse:
        delivery = hashlib.sha256(body).hexdigest()
        try:
            await run_in_threadpool(park_body, engine, SOURCE, delivery, reason, body)
        except Exception as exc:
            return refuse("not quarantined", exc)
        outage.ok(("store",))
        return refusals.reject(400, reason, SOURCE)

    async def segment_webhook(request: Request) -> JSONResponse:
        if not secret:
            if not told.is_set():
                # Once per process: the setting is what is missing, not a client's fault.
                told.set()
                log.warning("%s refused (404): FEEDBACKLOOP_SEGMENT_SHARED_SECRET is not set", PATH)
            return JSONResponse(
                {"detail": "webhook not configured"},
                status_code=404,
                headers={"Connection": "close"},
            )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return refusals.reject(413, "body too large", SOURCE, unread=True)
        signature = request.headers.get(SIGNATURE)
        if not signature:
            return refusals.reject(401, "missing signature header", SOURCE, unread=True)
        if _HEX_SHA1.match(signature.strip().lower()) is None:
            return refusals.reject(401, "invalid signature", SOURCE, unread=True)
        body = await read_capped(request, MAX_BODY_BYTES)
        if body is None:
            return refusals.reject(413, "body too large", SOURCE, unread=True)
        if not verify_segment_signature(secret, body, signature):
            return refusals.reject(401, "invalid signature", SOURCE)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return await park(f"malformed JSON: {type(exc).__name__}", body)
        if not isinstance(payload, dict):
            return await park("payload is not a JSON object", body)
        try:
            calls = calls_of(payload)
        except Invalid as exc:
            return await park(str(exc), body)
        if not calls:
            return await park("empty batch", body)
        try:
            intake = await run_in_threadpool(_store, engine, calls, hash_key)
        except Exception as exc:
            # Not stored, so not acknowledged: Segment retries.
            return refuse("not stored", exc)
        outage.ok(("store",))
        if intake.quarantined:
            rejects.failed(
                (SOURCE, "quarantined"),
                f"webhook {SOURCE}: {intake.quarantined} of {intake.received} calls quarantined "
                f"({intake.reasons[0]})",
            )
        if intake.stored and on_stored is not None:
            on_stored(SOURCE)
        counts = {
            "stored": intake.stored,
            "duplicate": intake.duplicate,
            "quarantined": intake.quarantined,
        }
        if not intake.stored and not intake.duplicate:
            return JSONResponse({"detail": "no usable call", **counts}, status_code=400)
        status = "stored" if intake.stored else "duplicate"
        return JSONResponse({"status": status, **counts})

    app.router.add_route(PATH, segment_webhook, methods=["POST"])
