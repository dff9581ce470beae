"""HTTP endpoints that receive webhooks: verify, store, answer.

`POST /webhooks/zendesk`
    Zendesk's documented scheme: header ``X-Zendesk-Webhook-Signature`` is
    ``base64(HMAC-SHA256(secret, TIMESTAMP + BODY))`` over the raw body, with TIMESTAMP the
    ``X-Zendesk-Webhook-Signature-Timestamp`` header (ISO 8601, e.g. ``2021-07-25T10:00:00Z``).
    The delivery id is ``X-Zendesk-Webhook-Invocation-Id`` (retries of one invocation share it).

`POST /webhooks/segment`
    Segment's webhook destination: ``X-Signature`` is the hex HMAC-SHA1 of the raw body with
    ``FEEDBACKLOOP_SEGMENT_SHARED_SECRET``; calls stored per ``messageId``
    (`feedbackloop.web.segment`).

`POST /webhooks/{source}`
    Our generic scheme for other senders, one secret per source in
    ``FEEDBACKLOOP_WEBHOOK_SECRETS``: ``X-Feedbackloop-Signature: sha256=<hex>`` of
    ``HMAC-SHA256(secret, TIMESTAMP + "." + BODY)``, ``X-Feedbackloop-Timestamp`` in Unix
    seconds (ISO 8601 accepted too), optional ``X-Feedbackloop-Delivery`` as delivery id.

`GET /healthz`
    200 when the database answers a query, 503 otherwise.

The feedback dashboard (`feedbackloop.web.dashboard`: `/`, `/actions/...`, `/items/...`,
`/faq`, `/reviews`, `/failures`) is served by the same app behind HTTP Basic auth; the webhook
routes keep their signatures and never ask for it. The quick feedback form
(`feedbackloop.web.form`: `GET` and `POST /feedback`) is public, with its own abuse limits.

Every delivery is checked before anything is parsed, and what needs no body is checked before
the body is read: missing signature headers, a timestamp more than five minutes away from our
clock (a replay) or a signature that cannot be one (wrong length or alphabet) are answered 401
at once; the body is then streamed and the read stops at `MAX_BODY_BYTES` (413, connection
closed), so no request costs more memory than the cap, chunked or not. A wrong signature is 401.

A verified delivery is stored masked in `raw.webhook_events` under (source, delivery id) and
committed before the 200 goes out, so a 2xx always means "durable"; the same delivery again is
answered 200 ``{"status": "duplicate"}`` and stored once. The delivery id is the sender's
(Zendesk's invocation id, our ``X-Feedbackloop-Delivery``); without one it is the event's own
identity (a Zendesk event's ``id``, else its ticket id, ``updated_at`` and type), else a hash of
the body: never the signature or timestamp, so the same event re-signed later is still one.
A verified body that is not a JSON object is answered 400 and parked in `ops.quarantine` with
a masked excerpt, once per delivery id however often it is retried.

While the database is down deliveries get 503 (``Retry-After``); the log says so once and then
once per `limits.SUMMARY_SECONDS` with a count, naming the exception class only (SQLAlchemy's
message holds the SQL and its parameters). Rejections are logged the same way. Bodies are
never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from feedbackloop.config import Settings
from feedbackloop.db.models import WebhookEvent
from feedbackloop.db.upsert import quarantine, storable
from feedbackloop.governance.fields import keyed_id, mask_json
from feedbackloop.web.limits import Refusals, db_reason, read_capped
from nlp.pii import mask

__all__ = [
    "MAX_BODY_BYTES",
    "REPLAY_WINDOW_SECONDS",
    "create_app",
    "generic_signature",
    "parse_timestamp",
    "verify_generic_signature",
    "verify_zendesk_signature",
    "zendesk_signature",
]

log = logging.getLogger(__name__)

REPLAY_WINDOW_SECONDS = 300
# Zendesk event payloads are a few KB; a cap keeps one request from eating the worker's memory.
MAX_BODY_BYTES = 1_000_000
EXCERPT_CHARS = 500
STREAM = "webhook_events"

ZENDESK = "zendesk"
ZENDESK_SIGNATURE = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
ZENDESK_INVOCATION = "x-zendesk-webhook-invocation-id"
GENERIC_SIGNATURE = "x-feedbackloop-signature"
GENERIC_TIMESTAMP = "x-feedbackloop-timestamp"
GENERIC_DELIVERY = "x-feedbackloop-delivery"
ZENDESK_EVENT_PREFIX = "zen:event-type:"

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_GENERIC_SIGNATURE = re.compile(r"^sha256=[0-9a-f]{64}$")


# ------------------------------------------------------------------------------- signatures


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, TIMESTAMP + BODY))``, as Zendesk documents it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _zendesk_signature_body_first(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_zendesk_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time check of a Zendesk signature.

    The current page ("Verifying webhook authenticity") documents TIMESTAMP + BODY; the worked
    example Zendesk publishes (secret ``HRkRd4…``, body ``{"say": "hello"}``, signature
    ``tRDSF7…``) only verifies with BODY + TIMESTAMP, the order an earlier revision of the same
    page gave. Both orders are accepted: both are keyed with the same secret and the timestamp is
    bound and checked either way, and a JSON body never ends with a timestamp, so one order's
    signature cannot be replayed as the other's.
    """
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    ok = False
    for sign in (zendesk_signature, _zendesk_signature_body_first):
        expected = base64.b64decode(sign(secret, timestamp, body))
        # No short-circuit: both comparisons always run.
        ok |= hmac.compare_digest(expected, given)
    return ok


def _zendesk_signature_shaped(signature: str) -> bool:
    """Base64 of a 32-byte HMAC-SHA256; anything else is refused before the body is read."""
    try:
        return (
            len(base64.b64decode(signature.strip(), validate=True)) == hashlib.sha256().digest_size
        )
    except (binascii.Error, ValueError):
        return False


def _generic_signature_shaped(signature: str) -> bool:
    return _GENERIC_SIGNATURE.match(signature.strip().lower()) is not None


def generic_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``TIMESTAMP + "." + BODY``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_generic_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    expected = generic_signature(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature.strip().lower().encode("utf-8", "replace"))


@dataclass(frozen=True)
class _Scheme:
    """How one kind of sender signs: its header names, the check and the shape test."""

    signature: str
    timestamp: str
    delivery: str
    verify: Callable[[str, str, bytes, str], bool]
    shaped: Callable[[str], bool]


_ZENDESK_SCHEME = _Scheme(
    ZENDESK_SIGNATURE,
    ZENDESK_TIMESTAMP,
    ZENDESK_INVOCATION,
    verify_zendesk_signature,
    _zendesk_signature_shaped,
)
_GENERIC_SCHEME = _Scheme(
    GENERIC_SIGNATURE,
    GENERIC_TIMESTAMP,
    GENERIC_DELIVERY,
    verify_generic_signature,
    _generic_signature_shaped,
)


def parse_timestamp(value: str) -> datetime | None:
    """Unix seconds or ISO 8601 (a bare date-time is taken as UTC); None when unreadable."""
    value = value.strip()
    if not value:
        return None
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------- storage


class Stored(BaseModel):
    """Answer to an accepted delivery."""

    status: str
    delivery_id: str


@dataclass(frozen=True)
class _Delivery:
    source: str
    delivery_id: str
    event_type: str | None
    payload: dict[str, Any]
    event_time: datetime


_INSERT = (
    pg_insert(WebhookEvent.__table__)
    .values(
        source=bindparam("source"),
        source_id=bindparam("source_id"),
        event_type=bindparam("event_type"),
        payload=bindparam("payload"),
        created_at=bindparam("event_time"),
        updated_at=bindparam("event_time"),
    )
    .on_conflict_do_nothing(index_elements=["source", "source_id"])
    .returning(WebhookEvent.__table__.c.source, WebhookEvent.__table__.c.source_id)
)


def _store_many(engine: Engine, deliveries: Sequence[_Delivery]) -> list[bool]:
    """Insert and commit a batch; per delivery, False when its (source, delivery id) was
    already stored (or came twice in this batch)."""
    params = [
        {
            "source": d.source,
            "source_id": d.delivery_id,
            "event_type": d.event_type,
            "payload": d.payload,
            "event_time": d.event_time,
        }
        for d in deliveries
    ]
    with engine.begin() as conn:
        inserted = {tuple(row) for row in conn.execute(_INSERT, params)}
    stored = []
    for d in deliveries:
        key = (d.source, d.delivery_id)
        stored.append(key in inserted)
        inserted.discard(key)
    return stored


class _BatchWriter:
    """Group commit: requests that arrive while one INSERT is in flight go in the next one.

    A request is answered only after the batch holding it committed, so "2xx means durable"
    still holds; what lives here is only deliveries not yet acknowledged, which a crash loses
    the same way it would lose an in-flight request (the sender retries). One commit per batch
    instead of per event is what lets one process take thousands of events per second.
    """

    def __init__(self, engine: Engine, max_batch: int = 500) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._pending: list[tuple[_Delivery, asyncio.Future[bool]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def store(self, delivery: _Delivery) -> bool:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            # Started lazily so the app also works without lifespan events.
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run())
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((delivery, future))
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await run_in_threadpool(
                        _store_many, self._engine, [d for d, _ in batch]
                    )
                except BaseException as exc:
                    # Never leave a request waiting: it gets the error (503, sender retries).
                    error = exc if isinstance(exc, Exception) else RuntimeError("writer stopped")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (uvicorn has already let in-flight requests finish), then stop."""
        deadline = time.monotonic() + timeout
        while self._pending and self._task is not None and not self._task.done():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, future in self._pending:
            if not future.done():
                future.set_exception(RuntimeError("server shutting down"))
        self._pending.clear()


_ALREADY_PARKED = text(
    "SELECT 1 FROM ops.quarantine WHERE source = :source AND stream = :stream "
    "AND source_id = :source_id AND reason = :reason AND resolved_at IS NULL LIMIT 1"
)


def _quarantine_body(
    engine: Engine, source: str, delivery_id: str, reason: str, body: bytes
) -> bool:
    """Park a delivery that is not a JSON object; False when this delivery (same source and
    delivery id, so a retry) is parked already. Retries arriving at once are serialised by a
    transaction-scoped advisory lock on the key, so they cannot both miss the other's row."""
    excerpt = mask(body[:EXCERPT_CHARS].decode("utf-8", errors="replace"))
    key = {"source": source, "stream": STREAM, "source_id": delivery_id, "reason": reason}
    with engine.begin() as conn:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"quarantine|{source}|{delivery_id}"},
        )
        if conn.execute(_ALREADY_PARKED, key).first() is not None:
            return False
        quarantine(
            conn,
            source=source,
            stream=STREAM,
            source_id=delivery_id,
            reason=reason,
            payload={"excerpt": excerpt, "bytes": len(body)},
            actor="feedbackloop web",
        )
    return True


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# ------------------------------------------------------------------------------- helpers


def _event_type(payload: Mapping[str, Any]) -> str | None:
    for key in ("type", "event_type", "event"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value[:128]
    return None


def _event_time(payload: Mapping[str, Any], fallback: datetime) -> datetime:
    # Zendesk events carry `time`; other senders often `occurred_at` or `created_at`.
    for key in ("time", "occurred_at", "created_at"):
        value = payload.get(key)
        if isinstance(value, str) and (parsed := parse_timestamp(value)) is not None:
            return parsed
    return fallback


def _event_identity(source: str, payload: Any) -> str | None:
    """A Zendesk event's own identity: its ``id``, else ticket id + ``updated_at`` + type."""
    if source != ZENDESK or not isinstance(payload, dict):
        return None
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind.startswith(ZENDESK_EVENT_PREFIX):
        # Trigger webhooks carry a body of the admin's making: an `id` there may be the
        # ticket's, which would merge every later update of that ticket into one delivery.
        return None
    event_id = payload.get("id")
    if isinstance(event_id, str | int) and not isinstance(event_id, bool) and str(event_id):
        return f"event:{event_id}"
    detail = payload.get("detail")
    if isinstance(detail, dict):
        ticket, updated = detail.get("id"), detail.get("updated_at")
        if isinstance(ticket, str | int) and isinstance(updated, str) and str(ticket) and updated:
            return f"ticket:{ticket}:{updated}:{kind.removeprefix(ZENDESK_EVENT_PREFIX)}"
    return None


def _delivery_id(source: str, header: str | None, payload: Any, body: bytes) -> str:
    """The sender's delivery id; else the event's own identity; else a hash of the body.

    Never the signature or timestamp: a sender that re-signs the same event later (a new
    timestamp, so a new signature) must land on the same id, or it is stored twice.
    """
    if header and _DELIVERY_ID.match(header.strip()):
        return header.strip()
    identity = _event_identity(source, payload)
    if identity is not None and _DELIVERY_ID.match(identity):
        return identity
    if identity is not None:
        # Too long or odd characters for a readable id: its hash is as stable.
        return "event:" + hashlib.sha256(identity.encode()).hexdigest()
    return hashlib.sha256(body).hexdigest()


# ------------------------------------------------------------------------------- app


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
    on_stored: Callable[[str], None] | None = None,
) -> FastAPI:
    """The webhook app, with the dashboard mounted. Holds nothing but the engine (from
    `settings` unless given); `clock` is for tests that replay documented examples with fixed
    timestamps. `on_stored(source)` is called after a new delivery is committed (`feedbackloop
    serve` starts a drain run)."""
    hash_key = settings.hash_key()
    if engine is None:
        from feedbackloop.db import get_engine

        engine = get_engine(settings)
    db: Engine = engine
    zendesk_secret = (
        settings.zendesk_webhook_secret.get_secret_value()
        if settings.zendesk_webhook_secret is not None
        else None
    )
    generic_secrets = {
        name: secret.get_secret_value()
        for name, secret in settings.webhook_secrets.items()
        if secret.get_secret_value()
    }

    writer = _BatchWriter(db)
    closers: list[Callable[[], None]] = []
    # A flood of bad requests or a database outage costs a few log lines, not one per request.
    refusals = Refusals(log, "webhook deliveries refused")
    outage, unavailable = refusals.outage, refusals.unavailable
    reject, refuse = refusals.reject, refusals.refuse

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await writer.close()
        for close in closers:
            close()

    app = FastAPI(
        title="feedbackloop webhooks",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )

    async def receive(
        request: Request, *, source: str, scheme: _Scheme, secret: str
    ) -> JSONResponse:
        signature = request.headers.get(scheme.signature)
        timestamp = request.headers.get(scheme.timestamp)
        delivery_header = request.headers.get(scheme.delivery)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return reject(413, "body too large", source, unread=True)
        # All that needs no body first: a request that cannot be genuine is never read.
        if not signature or not timestamp:
            return reject(401, "missing signature headers", source, unread=True)
        sent_at = parse_timestamp(timestamp)
        if sent_at is None or abs(clock() - sent_at.timestamp()) > REPLAY_WINDOW_SECONDS:
            return reject(401, "timestamp outside the allowed window", source, unread=True)
        if not scheme.shaped(signature):
            return reject(401, "invalid signature", source, unread=True)
        # Streamed under the cap: a chunked body has no Content-Length to refuse early.
        body = await read_capped(request, MAX_BODY_BYTES)
        if body is None:
            return reject(413, "body too large", source, unread=True)
        if not scheme.verify(secret, timestamp, body, signature):
            return reject(401, "invalid signature", source)

        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: nesting deeper than the parser goes is malformed for us too.
            payload, reason = None, f"malformed JSON: {type(exc).__name__}"
        else:
            reason = "payload is not a JSON object"
        # An id that is itself personal data (an address as an event id) is stored as its
        # keyed hash, like every other identifier.
        delivery_id = keyed_id(_delivery_id(source, delivery_header, payload, body), hash_key)
        if not isinstance(payload, dict):
            try:
                await run_in_threadpool(_quarantine_body, db, source, delivery_id, reason, body)
            except Exception as exc:
                # Neither stored nor parked: 503, so the sender retries it later.
                return refuse("not quarantined", exc)
            outage.ok(("store",))
            return reject(400, reason, source)

        delivery = _Delivery(
            source=source,
            delivery_id=delivery_id,
            event_type=storable(_event_type(payload)),
            # jsonb refuses NUL and lone surrogates: replaced, so such a delivery is stored
            # (and later quarantined or loaded) instead of being refused for ever.
            payload=storable(mask_json(payload, hash_key)),
            event_time=_event_time(payload, sent_at),
        )
        try:
            new = await writer.store(delivery)
        except Exception as exc:
            # Not stored, so not acknowledged: the sender retries.
            return refuse("not stored", exc)
        outage.ok(("store",))
        if new and on_stored is not None:
            on_stored(source)
        status = "stored" if new else "duplicate"
        return JSONResponse(Stored(status=status, delivery_id=delivery_id).model_dump())

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            await run_in_threadpool(_ping, db)
        except Exception as exc:
            outage.failed(("healthz",), f"healthz: {db_reason(exc)}")
            return JSONResponse({"status": "unavailable"}, status_code=503, headers=unavailable)
        outage.ok(("healthz",))
        return JSONResponse({"status": "ok"})

    async def zendesk_webhook(request: Request) -> JSONResponse:
        if not zendesk_secret:
            return reject(404, "webhook not configured", ZENDESK, unread=True)
        return await receive(request, source=ZENDESK, scheme=_ZENDESK_SCHEME, secret=zendesk_secret)

    async def generic_webhook(request: Request) -> JSONResponse:
        source = str(request.path_params["source"])
        secret = generic_secrets.get(source) if _SOURCE_NAME.match(source) else None
        if secret is None:
            return reject(404, "unknown webhook source", "generic", unread=True)
        return await receive(request, source=source, scheme=_GENERIC_SCHEME, secret=secret)

    # Plain Starlette routes: the handlers read the raw body themselves, so FastAPI's request
    # parsing and response validation would only add per-request cost on the hot path.
    app.router.add_route("/webhooks/zendesk", zendesk_webhook, methods=["POST"])
    # Before the generic route, which would take /webhooks/segment for a source of its own.
    from feedbackloop.web.segment import mount_segment

    mount_segment(app, settings, db, park_body=_quarantine_body, on_stored=on_stored)
    app.router.add_route("/webhooks/{source}", generic_webhook, methods=["POST"])

    from feedbackloop.web.dashboard import mount_dashboard

    dashboard = mount_dashboard(app, settings, db, clock=clock)
    closers.append(dashboard.reader.close)

    # The quick feedback form (issue 18): public, no login, its own abuse limits.
    from feedbackloop.web.form import mount_form

    mount_form(app, settings, db, clock=clock)
    return app
