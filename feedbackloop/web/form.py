# HTML and CSS lines read better unwrapped than cut at 100 columns.
# ruff: noqa: E501
"""The quick feedback form: ``GET /feedback`` and ``POST /feedback``, public, no login.

Server-rendered HTML without a line of script: a rating (1-5, or 0-10 for NPS when the survey
link or `FEEDBACKLOOP_FEEDBACK_FORM_SCALE` asks for it), a text box, an optional email address,
a consent box for using the answer to improve the product, and the disclosure that an
automated system reads the answers. Every input has a label, the rating is a fieldset with a
legend, focus is visible and the colours keep a contrast of at least 4.5:1.

``?t=TOKEN`` (a survey link, `feedbackloop.surveys`): a genuine, unexpired token records the
open (once) and ties the answer to its ticket, customer and action; any other token is read
as none, and the form works the same. The token travels on in a hidden field, never in a log.

Framing: ``Content-Security-Policy: frame-ancestors`` from
`FEEDBACKLOOP_FEEDBACK_FORM_FRAME_ANCESTORS` (default ``'self'``), and no ``X-Frame-Options``
(it cannot name other origins and would contradict the policy).

Abuse: a form token (``STAMP.HMAC(survey secret, "feedback-form|" STAMP)``, valid
`TOKEN_MAX_AGE` seconds; missing or wrong: 403), the body read under a cap and the text under
`FEEDBACKLOOP_FEEDBACK_FORM_MAX_TEXT` characters (413), a honeypot field (filled: the thank-you
page, nothing stored), `FEEDBACKLOOP_FEEDBACK_FORM_RATE_LIMIT` posts per client address per
`RATE_WINDOW_SECONDS` (429 with ``Retry-After``). An address that fails validation is never
stored, not even as a hash, and nothing is ever sent to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment, StrictUndefined
from sqlalchemy import Engine

from feedbackloop.config import ConfigError, Settings
from feedbackloop.surveys import FormAnswer, open_link, read_token, store_answer
from feedbackloop.vocabulary import RATING_SCALES
from feedbackloop.web.limits import RepeatLog, db_reason, read_capped

__all__ = ["RATE_WINDOW_SECONDS", "TOKEN_MAX_AGE", "FeedbackForm", "mount_form"]

log = logging.getLogger(__name__)

TOKEN_MAX_AGE = 6 * 3600
RATE_WINDOW_SECONDS = 600
HONEYPOT = "website"
MAX_EMAIL_CHARS = 254
# A flood of addresses cannot grow the rate table without bound.
MAX_CLIENTS = 50_000
_ORIGIN = re.compile(r"^(?:'self'|'none'|\*|https?://[A-Za-z0-9.*\-]+(?::\d{1,5})?)$")
SCALES = {
    "1-5": (
        range(1, 6),
        "How satisfied are you?",
        "1 = very unhappy, 5 = very happy",
    ),
    "0-10": (
        range(0, 11),
        "How likely are you to recommend us to a friend or colleague?",
        "0 = not at all likely, 10 = extremely likely",
    ),
}

assert tuple(SCALES) == RATING_SCALES

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2937;background:#fff}
main{max-width:36rem;margin:0 auto;padding:1.2rem}
h1{font-size:1.4rem;margin:.4rem 0 1rem}
fieldset{border:1px solid #6b7280;border-radius:6px;margin:0 0 1rem;padding:.6rem .8rem}
legend{font-weight:600;padding:0 .3rem}
.scale{display:flex;flex-wrap:wrap;gap:.35rem;margin:.4rem 0}
.scale label{display:inline-flex;align-items:center;gap:.2rem;border:1px solid #6b7280;border-radius:4px;padding:.2rem .5rem;cursor:pointer}
.hint,.disclosure{color:#374151;font-size:.9rem}
.field{margin:0 0 1rem}.field label{display:block;font-weight:600;margin-bottom:.25rem}
textarea,input[type=email]{box-sizing:border-box;width:100%;font:inherit;color:#1f2937;background:#fff;border:1px solid #6b7280;border-radius:4px;padding:.4rem}
.check label{font-weight:400;display:inline}
button{font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:4px;padding:.5rem 1.2rem;cursor:pointer}
a{color:#1d4ed8}
:focus-visible{outline:3px solid #b45309;outline-offset:2px}
input[type=radio]:focus-visible,input[type=checkbox]:focus-visible{outline:3px solid #b45309;outline-offset:2px}
.error{color:#991b1b;background:#fef2f2;border:1px solid #991b1b;border-radius:4px;padding:.5rem}
.trap{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}
</style></head>
<body><main>{% block content %}{% endblock %}</main></body></html>
"""

_FORM = """{% extends "page.html" %}{% block content %}
<h1>Tell us what you think</h1>
{% if error %}<p class="error" role="alert" id="form-error">{{ error }}</p>{% endif %}
<form method="post" action="/feedback" accept-charset="utf-8">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
{% if token %}<input type="hidden" name="t" value="{{ token }}">{% endif %}
<input type="hidden" name="scale" value="{{ scale }}">
<fieldset class="rating"><legend>{{ question }}</legend>
<p class="hint" id="rating-hint">{{ hint }}</p>
<div class="scale">{% for value in values %}
<label for="rating-{{ value }}"><input type="radio" id="rating-{{ value }}" name="rating" value="{{ value }}" aria-describedby="rating-hint"{% if rating == value|string %} checked{% endif %}>{{ value }}</label>
{% endfor %}</div></fieldset>
<div class="field"><label for="text">What should we know? <span class="hint">(optional, up to {{ max_text }} characters)</span></label>
<textarea id="text" name="text" rows="5" maxlength="{{ max_text }}">{{ text }}</textarea></div>
<div class="field"><label for="email">Your email address <span class="hint">(optional: it only links your answer to your account, we never write to it from this form)</span></label>
<input type="email" id="email" name="email" autocomplete="email" maxlength="{{ max_email }}" value="{{ email }}"></div>
<div class="field check"><input type="checkbox" id="consent" name="consent" value="yes"{% if consent %} checked{% endif %}>
<label for="consent">You may use my answer to improve the product.</label></div>
<div class="trap" aria-hidden="true"><label for="{{ honeypot }}">Leave this field empty</label>
<input type="text" id="{{ honeypot }}" name="{{ honeypot }}" tabindex="-1" autocomplete="off"></div>
<p class="disclosure" id="disclosure">An automated system reads every answer (it masks personal data, rates the sentiment and groups answers by topic); people on our team read them too.</p>
<button type="submit">Send feedback</button>
</form>
{% endblock %}"""

_THANKS = """{% extends "page.html" %}{% block content %}
<h1>Thank you!</h1>
<p role="status" id="thanks">Your feedback has reached us. An automated system reads every answer, and people on our team read them too.</p>
{% endblock %}"""

_REFUSED = """{% extends "page.html" %}{% block content %}
<h1>{{ title }}</h1>
<p role="alert">{{ detail }}</p>
<p><a href="/feedback">Back to the form</a></p>
{% endblock %}"""


def _environment() -> Environment:
    return Environment(
        loader=DictLoader({"page.html": _PAGE, "form.html": _FORM, "thanks.html": _THANKS,
                           "refused.html": _REFUSED}),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip


def frame_ancestors(origins: list[str]) -> str:
    """The CSP source list; entries that are not an origin or keyword are left out (a setting
    must not be able to add a directive)."""
    kept = [o.strip() for o in origins if _ORIGIN.match(o.strip())]
    return " ".join(kept) or "'none'"


class RateLimit:
    """At most `limit` events per key in a sliding window of `window` seconds, in memory (one
    `feedbackloop web` process)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the event is allowed (and counted); else seconds until it would be."""
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self._window:
                events.popleft()
            if len(events) >= self._limit:
                return events[0] + self._window - now
            events.append(now)
            if len(self._events) > MAX_CLIENTS:
                self._prune(now)
            return 0.0

    def _prune(self, now: float) -> None:
        for key in [k for k, e in self._events.items() if not e or now - e[-1] >= self._window]:
            del self._events[key]


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}


class FeedbackForm:
    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        try:
            self.secret: bytes | None = settings.survey_secret()
        except ConfigError as exc:
            # Like the dashboard without a password: the form is closed, the webhooks run on.
            self.secret, self.disabled = None, str(exc)
        else:
            self.disabled = None
        self.hash_key = settings.hash_key()
        self.max_text = settings.feedback_form_max_text
        # Percent-encoding makes a character up to 12 bytes; the rest of the form is small.
        self.max_body = self.max_text * 12 + 8192
        self.env = _environment()
        self.limits = RateLimit(settings.feedback_form_rate_limit, RATE_WINDOW_SECONDS, clock)
        self.refusals = RepeatLog(log)
        self.headers = {
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                f"base-uri 'none'; frame-ancestors {frame_ancestors(settings.feedback_form_frame_ancestors)}"
            ),
            "X-Content-Type-Options": "nosniff",
            # The survey token is in the page's URL: it goes to no other site.
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        self._gate: Any = None
        self._gate_lock = threading.Lock()

    # ----------------------------------------------------------------------------- helpers

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def page(self, name: str, status: int = 200, headers: dict[str, str] | None = None,
             **context: Any) -> HTMLResponse:  # fmt: skip
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers={**self.headers, **(headers or {})})

    def refused(self, exc: Refused) -> HTMLResponse:
        self.refusals.failed(
            (str(exc.status), exc.title), f"feedback form {exc.status}: {exc.title}"
        )
        return self.page(
            "refused.html", exc.status, exc.headers, title=exc.title, detail=exc.detail
        )

    def _mac(self, stamp: str) -> str:
        assert self.secret is not None
        digest = hmac.new(self.secret, f"feedback-form|{stamp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def csrf_token(self) -> str:
        stamp = str(int(self.clock()))
        return f"{stamp}.{self._mac(stamp)}"

    def check_csrf(self, token: str | None) -> None:
        stamp, _, mac = (token or "").partition(".")
        if not stamp.isdigit() or not mac:
            raise Refused(
                403, "Form expired", "The form token is missing: reload the form and send it again."
            )
        fresh = 0 <= self.clock() - int(stamp) <= TOKEN_MAX_AGE
        if not hmac.compare_digest(mac.encode(), self._mac(stamp).encode()) or not fresh:
            raise Refused(
                403,
                "Form expired",
                "The form token is wrong or expired: reload the form and send it again.",
            )

    def gate(self) -> Any:
        """The GX gate of every source (the same suite), built once: a GX context takes
        seconds. Ephemeral: a long-lived file context goes stale ("checkpoint related
        resources freshness") as soon as a flow run in another process re-registers the
        suites in the shared one; the runs are still recorded in ops.validation_runs."""
        with self._gate_lock:
            if self._gate is None:
                from feedbackloop.governance.gate import table_gate
                from feedbackloop.resources import build_validator

                validate = table_gate(build_validator(self.settings, ephemeral=True))
                run_lock = threading.Lock()

                def gate(table: str, rows: Any) -> Any:
                    # One GX run at a time: a context is not made for concurrent runs.
                    with run_lock:
                        return validate(table, rows)

                self._gate = gate
            return self._gate

    def form(self, *, token: str | None, scale: str, status: int = 200, error: str | None = None,
             fields: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
        values, question, hint = SCALES[scale]
        fields = fields or {}
        return self.page(
            "form.html",
            status,
            title="Tell us what you think",
            error=error,
            csrf=self.csrf_token(),
            token=token,
            scale=scale,
            values=list(values),
            question=question,
            hint=hint,
            rating=fields.get("rating", ""),
            text=fields.get("text", ""),
            email=fields.get("email", ""),
            consent=fields.get("consent") == "yes",
            honeypot=HONEYPOT,
            max_text=self.max_text,
            max_email=MAX_EMAIL_CHARS,
        )

    def default_scale(self, asked: str | None) -> str:
        if asked in ("nps", "0-10"):
            return "0-10"
        if asked == "1-5":
            return "1-5"
        return self.settings.feedback_form_scale

    # ------------------------------------------------------------------------------- routes

    def closed(self) -> HTMLResponse:
        return self.refused(
            Refused(503, "Feedback form closed", f"The form is not configured: {self.disabled}.")
        )

    async def show(self, request: Request) -> HTMLResponse:
        if self.secret is None:
            return self.closed()
        token = request.query_params.get("t")
        scale = self.default_scale(request.query_params.get("scale"))
        check = read_token(self.secret, token, self.now())
        if check.rid is not None:
            try:
                link = await run_in_threadpool(open_link, self.engine, check.rid, self.now())
            except Exception as exc:
                # The form still works; the open is not counted this time.
                self.refusals.failed(("open",), f"survey link open not recorded: {db_reason(exc)}")
                link = None
            if link is not None:
                scale = link.rating_scale
        return self.form(token=token if check.rid else None, scale=scale)

    async def post(self, request: Request) -> HTMLResponse:
        if self.secret is None:
            return self.closed()
        client = request.client.host if request.client else ""
        try:
            return await self._post(request, client)
        except Refused as exc:
            return self.refused(exc)

    async def _post(self, request: Request, client: str) -> HTMLResponse:
        wait = self.limits.take(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise Refused(429, "Too many answers", f"Too many answers from your network: try again in {seconds} s.",
                          {"Retry-After": str(seconds)})  # fmt: skip
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise Refused(415, "Not a form", "Send the form from its page.")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise Refused(413, "Too long", f"The answer is too long: at most {self.max_text} characters.",
                          {"Connection": "close"})  # fmt: skip
        body = await read_capped(request, self.max_body)
        if body is None:
            raise Refused(413, "Too long", f"The answer is too long: at most {self.max_text} characters.",
                          {"Connection": "close"})  # fmt: skip
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise Refused(
                400, "Unreadable form", "The form could not be read: send it again."
            ) from None
        fields = {k: v[0] for k, v in parsed.items()}
        self.check_csrf(fields.get("csrf_token"))
        text = fields.get("text", "").strip()
        if len(text) > self.max_text:
            raise Refused(
                413, "Too long", f"The answer is too long: at most {self.max_text} characters."
            )
        if fields.get(HONEYPOT, "").strip():
            # A bot filled the invisible field: it sees what a person sees, nothing is stored.
            self.refusals.failed(("honeypot",), "feedback form: honeypot filled, answer dropped")
            return self.page("thanks.html", title="Thank you")

        now = self.now()
        check = read_token(self.secret, fields.get("t"), now)
        scale = fields.get("scale") if fields.get("scale") in SCALES else self.default_scale(None)
        token = fields.get("t") if check.rid else None
        rating_text = fields.get("rating", "").strip()
        rating: int | None = None
        values = SCALES[scale][0]
        if rating_text:
            if not rating_text.isdigit() or int(rating_text) not in values:
                return self.form(token=token, scale=scale, status=400, fields=fields,
                                 error=f"Choose a rating from {values[0]} to {values[-1]}.")  # fmt: skip
            rating = int(rating_text)
        if rating is None and not text:
            return self.form(token=token, scale=scale, status=400, fields=fields,
                             error="Choose a rating or write a few words.")  # fmt: skip
        email = fields.get("email", "").strip() or None
        if email is not None and len(email) > MAX_EMAIL_CHARS:
            return self.form(token=token, scale=scale, status=400, fields=fields,
                             error="That email address is too long.")  # fmt: skip
        answer = FormAnswer(
            rating=rating,
            rating_scale=scale,
            text=text or None,
            email=email,
            consent_improvement=fields.get("consent") == "yes",
            rid=check.rid,
        )
        try:
            gate = await run_in_threadpool(self.gate)
            stored = await run_in_threadpool(
                lambda: store_answer(
                    self.engine,
                    answer,
                    hash_key=self.hash_key,
                    gate=gate,
                    now=now,
                    email_deliverability=self.settings.email_check_deliverability,
                    email_dns_timeout=self.settings.email_dns_timeout,
                )
            )
        except Exception as exc:
            self.refusals.failed(
                ("store",), f"feedback form answer not stored (503): {db_reason(exc)}"
            )
            raise Refused(503, "Please try again", "Your answer could not be saved just now: try again in a minute.",
                          {"Retry-After": "60"}) from None  # fmt: skip
        self.refusals.ok(("store",))
        if not stored.stored:
            log.warning("feedback form answer quarantined: %s", stored.reason)
        return self.page("thanks.html", title="Thank you")


def mount_form(
    app: FastAPI, settings: Settings, engine: Engine, *, clock: Callable[[], float] = time.time
) -> FeedbackForm:
    """Add ``GET /feedback`` and ``POST /feedback`` to `app` (no login: a public form)."""
    form = FeedbackForm(settings, engine, clock)
    app.router.add_route("/feedback", form.show, methods=["GET"], include_in_schema=False)
    app.router.add_route("/feedback", form.post, methods=["POST"], include_in_schema=False)
    return form
