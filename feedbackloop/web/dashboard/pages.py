"""The dashboard's routes: server-rendered pages, POST forms that go through the library.

Pages: ``/`` (overview), ``/actions/{id}`` and ``/items/{type}/{source}/{id}`` (why did it do
that), ``/faq``, ``/reviews``, ``/failures``, ``/governance`` (the latest run of each GX
checkpoint) with the Data Docs site read-only under ``/governance/docs/``. Every page needs the
dashboard's Basic-auth credentials; every POST also a form token (see `auth`). A POST that
worked answers 303 to its page (reloading does not post again); one the library refuses
re-renders the page with the reason and 409.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import Engine

from expectations.docs_html import CSP as DOCS_CSP
from expectations.docs_html import site_dir
from feedbackloop.config import Settings
from feedbackloop.web.dashboard import charts, data
from feedbackloop.web.dashboard.auth import DashboardAuth, Denied
from feedbackloop.web.dashboard.templates import EMAIL, environment
from feedbackloop.web.limits import read_capped

__all__ = ["mount_dashboard"]

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 16_384
FAILURE_DAYS = 14
SECURITY_HEADERS = {
    # Nothing but our own inline styles and SVG: no script, no remote resource, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# The Data Docs pages carry inline styles of their own and images of the site: no script, no
# remote resource either (docs_html makes the pages so; this holds for pages built before).
DOCS_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": f"{DOCS_CSP}; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_DONE = {
    "accepted": "Cluster {id} accepted: it is now being written as an article.",
    "rejected": "Cluster {id} rejected.",
    "rated": "Review {id} stored.",
    "sampled": "{id} actions queued for review this week.",
}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise Denied(415, "forms are posted as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise Denied(413, "form too large")
    # Streamed under the cap: a chunked body has no Content-Length to refuse early.
    body = await read_capped(request, MAX_FORM_BYTES)
    if body is None:
        raise Denied(413, "form too large", {"Connection": "close"})
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise Denied(400, "malformed form") from None
    return {k: v[0].strip() for k, v in parsed.items()}


class Dashboard:
    def __init__(
        self, settings: Settings, engine: Engine, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.auth = DashboardAuth(settings, engine=engine, clock=clock)
        self.reader = data.MartReader(settings, engine)
        self.docs_root = site_dir(settings.state_path)
        self.env = environment()
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    # --------------------------------------------------------------------------- helpers

    def render(self, name: str, user: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("message", None)
        context.setdefault("message_kind", "")
        context.setdefault("errors", {})
        html = self.env.get_template(name).render(user=user, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def error(self, user: str, status: int, title: str, detail: str) -> HTMLResponse:
        return self.render("error.html", user, status, title=title, detail=detail)

    @staticmethod
    def done_message(request: Request) -> str | None:
        template = _DONE.get(request.query_params.get("done", ""))
        ident = _int(request.query_params.get("id"))
        return template.format(id=ident) if template and ident is not None else None

    @staticmethod
    def reviewer(form: dict[str, str], user: str) -> str:
        name = form.get("reviewer") or user
        if EMAIL.search(name):
            raise Denied(400, "give the reviewer's name, not an email address")
        return name[:128]

    def mart_section(self, errors: dict[str, str], key: str, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except data.MartsUnavailable as exc:
            errors[key] = str(exc)
            return None

    # ----------------------------------------------------------------------------- pages

    def index(self, user: str) -> HTMLResponse:
        now = self.now()
        today = now.date()
        errors: dict[str, str] = {}
        kpis = self.mart_section(errors, "kpis", lambda: data.key_numbers(self.reader, today))
        sparks = [
            charts.sparkline(n.trend, title=f"{n.name}, last {len(n.trend)} weeks")
            for n in (kpis.numbers if kpis else [])
        ]
        sentiment = self.mart_section(
            errors, "sentiment", lambda: data.sentiment_days(self.reader, today)
        )
        heat = self.mart_section(errors, "topics", lambda: data.topic_heatmap(self.reader, today))
        faq = self.mart_section(
            errors, "faq", lambda: data.faq_candidates(self.reader, self.engine)
        )
        surveys = self.mart_section(
            errors, "surveys", lambda: data.survey_funnel(self.reader, today)
        )
        fails = data.failures(self.engine, now, FAILURE_DAYS)
        return self.render(
            "index.html",
            user,
            title="Overview",
            errors=errors,
            kpis=kpis,
            sparks=sparks,
            sentiment_chart=charts.stacked_bars(
                *sentiment, title="Feedback items per day by sentiment level, last 30 days"
            )
            if sentiment
            else "",
            heatmap_chart=charts.heatmap(
                heat.topics, heat.weeks, heat.values, title="Items per topic and ISO week"
            )
            if heat
            else "",
            actions=data.recent_actions(self.engine),
            recent_failures=fails.newest(5),
            failure_total=fails.total,
            days=FAILURE_DAYS,
            faq_count=None if faq is None else len(faq),
            review_count=data.counts(self.engine)["reviews"],
            surveys=surveys or [],
        )

    def action(self, user: str, action_id: int) -> HTMLResponse:
        detail = data.action_detail(self.engine, action_id)
        if detail is None:
            return self.error(user, 404, "No such action", f"There is no action #{action_id}.")
        return self.render("action.html", user, title=f"Action #{action_id}", d=detail)

    def item(self, user: str, item_type: str, source: str, source_id: str) -> HTMLResponse:
        detail = data.item_detail(self.engine, item_type, source, source_id)
        if detail is None:
            return self.error(user, 404, "No such item", "No text, score or action for it.")
        return self.render("item.html", user, title=f"{item_type} {source}:{source_id}", d=detail)

    def faq(
        self, user: str, message: str | None = None, kind: str = "", status: int = 200
    ) -> HTMLResponse:
        errors: dict[str, str] = {}
        candidates = self.mart_section(
            errors, "faq", lambda: data.faq_candidates(self.reader, self.engine)
        )
        return self.render(
            "faq.html",
            user,
            status,
            title="FAQ candidates",
            errors=errors,
            candidates=candidates or [],
            csrf=self.auth.csrf_token(user),
            message=message,
            message_kind=kind,
        )

    def reviews(
        self, user: str, message: str | None = None, kind: str = "", status: int = 200
    ) -> HTMLResponse:
        from feedbackloop.review import LABELS, review_queue

        return self.render(
            "reviews.html",
            user,
            status,
            title="Review queue",
            queue=review_queue(self.engine),
            reviewed=data.recently_rated(self.engine),
            labels=LABELS,
            csrf=self.auth.csrf_token(user),
            message=message,
            message_kind=kind,
        )

    def failures(self, user: str, days: int) -> HTMLResponse:
        now = self.now()
        errors: dict[str, str] = {}
        ops = self.mart_section(
            errors, "ops_health", lambda: data.ops_health(self.reader, now.date(), days)
        )
        return self.render(
            "failures.html",
            user,
            title="Failures",
            errors=errors,
            f=data.failures(self.engine, now, days),
            ops_health=ops or [],
            days=days,
        )

    def governance(self, user: str) -> HTMLResponse:
        return self.render(
            "governance.html",
            user,
            title="Governance",
            runs=data.governance(self.engine, self.docs_root),
        )

    def docs(self, relative: str) -> Response:
        """A file of the Data Docs site, read-only; anything else is a 404."""
        path = data.docs_file(self.docs_root, relative or "index.html")
        if path is None:
            raise Denied(404, "not found")
        media_type = data.DOCS_TYPES[path.suffix.lower()]
        return Response(path.read_bytes(), media_type=media_type, headers=DOCS_HEADERS)

    # ----------------------------------------------------------------------------- posts

    def decide_faq(self, user: str, cluster_id: int, form: dict[str, str]) -> Response:
        from feedbackloop.faq import FaqError, decide

        decision = form.get("decision", "")
        if decision not in ("accepted", "rejected"):
            return self.faq(user, "Choose accept or reject.", "error", 400)
        try:
            decide(
                self.engine,
                cluster_id,
                decision,
                by=self.reviewer(form, user),
                note=form.get("note") or None,
            )
        except FaqError as exc:
            return self.faq(user, str(exc), "error", 409)
        query = urlencode({"done": decision, "id": cluster_id})
        return RedirectResponse(f"/faq?{query}#cluster-{cluster_id}", status_code=303)

    def rate_review(self, user: str, review_id: int, form: dict[str, str]) -> Response:
        from feedbackloop.review import ReviewError, record_review

        try:
            record_review(
                self.engine,
                review_id,
                reviewer=self.reviewer(form, user),
                verdict=form.get("verdict", ""),
                sentiment_label=form.get("sentiment_label") or None,
            )
        except ReviewError as exc:
            return self.reviews(user, str(exc), "error", 409)
        return RedirectResponse(f"/reviews?{urlencode({'done': 'rated', 'id': review_id})}", 303)

    def sample_reviews(self, user: str) -> Response:
        from feedbackloop.review import sample_for_review

        queued = sample_for_review(self.engine, actor=f"dashboard:{user}")
        return RedirectResponse(
            f"/reviews?{urlencode({'done': 'sampled', 'id': len(queued)})}", 303
        )


def mount_dashboard(
    app: FastAPI,
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], float] = time.time,
) -> Dashboard:
    """Add the dashboard's routes to `app` (the webhook app: webhooks keep their own auth)."""
    dash = Dashboard(settings, engine, clock)

    async def denied(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        return PlainTextResponse(exc.message + "\n", status_code=exc.status, headers=exc.headers)

    app.add_exception_handler(Denied, denied)

    def page(render: Callable[..., Response]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            user = await dash.auth.check(request)
            return await run_in_threadpool(render, request, user)

        return endpoint

    def post(handle: Callable[..., Response]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            user = await dash.auth.check(request)
            form = await _form(request)
            dash.auth.check_post(request, user, form.get("csrf_token"))
            return await run_in_threadpool(handle, request, user, form)

        return endpoint

    def path_int(request: Request, name: str, minimum: int = 1, limit: int = 2**63) -> int:
        value = _int(request.path_params[name])
        if value is None or not minimum <= value < limit:
            raise Denied(404, "not found")
        return value

    routes: list[tuple[str, Callable[..., Any], str]] = [
        ("/", page(lambda r, u: dash.index(u)), "GET"),
        (
            "/actions/{action_id}",
            page(lambda r, u: dash.action(u, path_int(r, "action_id"))),
            "GET",
        ),
        (
            "/items/{item_type}/{source}/{source_id}",
            page(
                lambda r, u: dash.item(
                    u,
                    r.path_params["item_type"],
                    r.path_params["source"],
                    r.path_params["source_id"],
                )
            ),
            "GET",
        ),
        ("/faq", page(lambda r, u: dash.faq(u, dash.done_message(r))), "GET"),
        ("/reviews", page(lambda r, u: dash.reviews(u, dash.done_message(r))), "GET"),
        (
            "/failures",
            page(
                lambda r, u: dash.failures(
                    u, min(max(_int(r.query_params.get("days")) or FAILURE_DAYS, 1), 365)
                )
            ),
            "GET",
        ),
        ("/governance", page(lambda r, u: dash.governance(u)), "GET"),
        # Relative links in the site need the trailing slash.
        ("/governance/docs", page(lambda r, u: RedirectResponse("/governance/docs/", 307)), "GET"),
        (
            "/governance/docs/{relative:path}",
            page(lambda r, u: dash.docs(r.path_params["relative"])),
            "GET",
        ),
        (
            "/faq/{cluster_id}",
            post(lambda r, u, f: dash.decide_faq(u, path_int(r, "cluster_id", 0, 2**31), f)),
            "POST",
        ),
        ("/reviews/sample", post(lambda r, u, f: dash.sample_reviews(u)), "POST"),
        (
            "/reviews/{review_id}",
            post(lambda r, u, f: dash.rate_review(u, path_int(r, "review_id"), f)),
            "POST",
        ),
    ]
    for path, endpoint, method in routes:
        app.router.add_route(path, endpoint, methods=[method], include_in_schema=False)
    return dash
