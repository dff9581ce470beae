"""What the pages show, as plain data: mart reads through the `bi_reader` role, operational
reads (actions, attempts, audit, failures) with the pipeline's own connection.

`MartReader` connects as `bi_reader` when FEEDBACKLOOP_BI_READER_PASSWORD is set (the login
`feedbackloop db migrate` gives it), on the same server and database as the pipeline; without
it, it uses the pipeline's connection with ``SET LOCAL ROLE bi_reader``. Either way the database
enforces the grants: the marts and nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from feedbackloop.config import Settings
from feedbackloop.items import item_text
from feedbackloop.routing.explain import find_actions, milestone_words, token_notes
from feedbackloop.vocabulary import ITEM_TYPES, SENTIMENT_LABELS

log = logging.getLogger(__name__)

__all__ = [
    "BI_ROLE",
    "CheckpointRun",
    "MartReader",
    "MartsUnavailable",
    "action_detail",
    "docs_file",
    "failures",
    "faq_candidates",
    "governance",
    "item_detail",
    "key_numbers",
    "recent_actions",
    "recently_rated",
    "sentiment_days",
    "topic_heatmap",
]

BI_ROLE = "bi_reader"
MARTS = "analytics_marts"
TEXT_SHOWN = 2000


class MartsUnavailable(RuntimeError):
    """The marts cannot be read (not built yet, or the role lacks its grants): one line."""


class MartReader:
    """Read-only connections to the marts as `bi_reader`."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._pipeline = engine
        self._own: Engine | None = None
        if (
            settings.bi_reader_password is not None
            and settings.bi_reader_password.get_secret_value()
        ):
            url = engine.url.set(
                username=BI_ROLE, password=settings.bi_reader_password.get_secret_value()
            )
            self._own = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)

    @property
    def mode(self) -> str:
        return "login" if self._own is not None else "set role"

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            if self._own is not None:
                with self._own.connect() as conn, conn.begin():
                    conn.execute(text("SET TRANSACTION READ ONLY"))
                    yield conn
            else:
                with self._pipeline.connect() as conn, conn.begin():
                    # LOCAL: the role ends with the transaction, before the connection goes
                    # back to the pool.
                    conn.execute(text(f"SET LOCAL ROLE {BI_ROLE}"))
                    conn.execute(text("SET TRANSACTION READ ONLY"))
                    yield conn
        except SQLAlchemyError as exc:
            raise MartsUnavailable(_why(exc)) from None

    def close(self) -> None:
        if self._own is not None:
            self._own.dispose()


def _why(exc: SQLAlchemyError) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = message[0] if message else type(exc).__name__
    if "does not exist" in first:
        return (
            f"the marts are not built yet ({first}): run `feedbackloop demo` or "
            "`feedbackloop marts build`"
        )
    if "permission denied" in first or "not permitted" in first or "authentication" in first:
        return (
            f"cannot read the marts as {BI_ROLE} ({first}): run `feedbackloop db migrate` and "
            "`feedbackloop marts build`, or grant the role to the pipeline user"
        )
    return f"cannot read the marts: {first}"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, (Decimal, int, float)) else None


# ------------------------------------------------------------------------- key numbers


@dataclass
class KeyNumber:
    name: str
    unit: str  # "count", "minutes", "share"
    better: str  # "up", "down" or "" (neither)
    value: float | None
    previous: float | None
    trend: list[float | None]

    @property
    def change(self) -> float | None:
        """Relative change for counts and times, percentage points for shares."""
        if self.value is None or self.previous is None:
            return None
        if self.unit == "share":
            return self.value - self.previous
        if self.previous == 0:
            return None
        return (self.value - self.previous) / self.previous

    @property
    def judgement(self) -> str:
        change = self.change
        if change is None or not self.better or abs(change) < 1e-9:
            return "flat"
        return "good" if (change > 0) == (self.better == "up") else "bad"


@dataclass
class KeyNumbers:
    week: str | None
    previous_week: str | None
    numbers: list[KeyNumber]


_KPIS = (
    ("Volume (tickets)", "tickets_created", "count", ""),
    ("Median first reply", "median_first_reply_minutes", "minutes", "down"),
    ("Median resolution", "median_full_resolution_minutes", "minutes", "down"),
    ("CSAT", "csat_score", "share", "up"),
    ("Share negative", "share_negative", "share", "down"),
)


def key_numbers(reader: MartReader, today: date, weeks: int = 12) -> KeyNumbers:
    """The last complete ISO week against the one before (the running week is partial); the
    newest weeks when the data ends earlier."""
    monday = today - timedelta(days=today.weekday())
    with reader.connect() as conn:
        rows = conn.execute(
            text(
                f"""
                SELECT week_start, iso_week, tickets_created, median_first_reply_minutes,
                       median_full_resolution_minutes, csat_score, share_negative
                FROM {MARTS}.mart_support_kpis ORDER BY week_start
                """
            )
        ).all()
    complete = [r for r in rows if r.week_start < monday] or rows
    shown = complete[-weeks:]
    current = shown[-1] if shown else None
    previous = shown[-2] if len(shown) > 1 else None
    numbers = [
        KeyNumber(
            name,
            unit,
            better,
            _num(getattr(current, column)) if current else None,
            _num(getattr(previous, column)) if previous else None,
            [_num(getattr(r, column)) for r in shown],
        )
        for name, column, unit, better in _KPIS
    ]
    return KeyNumbers(
        current.iso_week if current else None,
        previous.iso_week if previous else None,
        numbers,
    )


# ------------------------------------------------------------------------------ charts

LEVELS = SENTIMENT_LABELS


def sentiment_days(
    reader: MartReader, today: date, days: int = 30
) -> tuple[list[date], dict[str, list[int]]]:
    """Items per day and sentiment level over the `days` days up to `today` (zeros filled)."""
    first = today - timedelta(days=days - 1)
    with reader.connect() as conn:
        rows = conn.execute(
            text(
                f"""
                SELECT sentiment_date, sum(very_negative_items) AS very_negative,
                       sum(negative_items) AS negative, sum(neutral_items) AS neutral,
                       sum(positive_items) AS positive, sum(very_positive_items) AS very_positive
                FROM {MARTS}.mart_sentiment_daily
                WHERE sentiment_date BETWEEN :first AND :last
                GROUP BY sentiment_date
                """
            ),
            {"first": first, "last": today},
        ).all()
    by_day = {r.sentiment_date: r for r in rows}
    dates = [first + timedelta(days=i) for i in range(days)]
    series = {
        level: [int(getattr(by_day[d], level)) if d in by_day else 0 for d in dates]
        for level in LEVELS
    }
    return dates, series


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Heatmap:
    topics: list[tuple[str, str]]  # (cluster id, label)
    weeks: list[str]
    values: dict[tuple[str, str], tuple[int, float | None]]


def topic_heatmap(reader: MartReader, today: date, weeks: int = 12, topics: int = 12) -> Heatmap:
    """The `topics` largest topics of the last `weeks` ISO weeks, items per topic and week."""
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    with reader.connect() as conn:
        rows = conn.execute(
            text(
                f"""
                SELECT cluster_id, coalesce(topic_label, topic_key, 'topic ' || cluster_id)
                           AS label, iso_week, items, share_negative
                FROM {MARTS}.mart_topic_heatmap WHERE week_start >= :first
                """
            ),
            {"first": first},
        ).all()
    totals: dict[str, int] = {}
    labels: dict[str, str] = {}
    values: dict[tuple[str, str], tuple[int, float | None]] = {}
    for r in rows:
        key = str(r.cluster_id)
        totals[key] = totals.get(key, 0) + int(r.items)
        labels[key] = r.label
        values[(key, r.iso_week)] = (int(r.items), _num(r.share_negative))
    top = sorted(totals, key=lambda k: (-totals[k], int(k)))[:topics]
    week_labels = [_iso_week(first + timedelta(weeks=i)) for i in range(weeks)]
    return Heatmap([(k, labels[k]) for k in top], week_labels, values)


# ----------------------------------------------------------------------------- actions


def _dicts(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of one query, as dicts (what the templates read)."""
    return [r._asdict() for r in conn.execute(text(sql), params)]


def recent_actions(engine: Engine, limit: int = 15) -> list[Mapping[str, Any]]:
    with engine.connect() as conn:
        return _dicts(
            conn,
            """
            SELECT id, created_at, rule, action_type, status, item_type, item_source,
                   item_source_id, explanation -> 'sentiment' ->> 'label' AS label
            FROM ops.actions ORDER BY id DESC LIMIT :n
            """,
            n=limit,
        )


# Fields of the stored explanation that are shown; ids of customers and accounts are not.
_CUSTOMER_SHOWN = ("tier", "consent_contact", "email_valid", "erased")
_PAYLOAD_SHOWN = ("ref", "channel", "template", "language", "tags", "priority", "public")


@dataclass
class Signal:
    what: str
    weight: float | None
    notes: list[str] = field(default_factory=list)


def signals_of(sentiment_explanation: Mapping[str, Any] | None) -> list[Signal]:
    """Tokens and rules that moved the score, heaviest first."""
    out = []
    for s in (sentiment_explanation or {}).get("signals") or []:
        if not isinstance(s, Mapping):
            continue
        weight = _num(s.get("weight"))
        if "token" in s:
            out.append(Signal(repr(str(s["token"])), weight, token_notes(s)))
        elif "rule" in s:
            notes = [str(s["note"])] if s.get("note") else []
            if s.get("evidence"):
                notes.append("evidence: " + ", ".join(str(e) for e in s["evidence"]))
            out.append(Signal(f"rule: {str(s['rule']).replace('_', ' ')}", weight, notes))
    return sorted(out, key=lambda s: -abs(s.weight or 0.0))


def _audit_rows(conn: Connection, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _dicts(
        conn,
        "SELECT id, occurred_at, actor, action, entity_type, entity_id, details, reason "
        f"FROM ops.audit_log WHERE {where} ORDER BY occurred_at, id LIMIT 50",
        **params,
    )


def action_detail(engine: Engine, action_id: int) -> dict[str, Any] | None:
    """Everything the explanation page shows about one action, or None when there is none."""
    found = find_actions(engine, str(action_id))
    if not found:
        return None
    action = dict(found[0])
    e = action.get("explanation") or {}
    sentiment = e.get("sentiment") or {}
    customer = e.get("customer") or {}
    payload = action.get("payload") or {}
    with engine.connect() as conn:
        reviews = _dicts(
            conn,
            "SELECT id, batch, reviewer, verdict, sentiment_label, reviewed_at "
            "FROM ops.human_reviews WHERE action_id = :id ORDER BY id",
            id=action_id,
        )
        # The decision's own audit row (same transaction: same time as the action), rows
        # about this action or its reviews.
        audit = _audit_rows(
            conn,
            """
            (entity_type = 'routing' AND entity_id = :rules_version
                 AND occurred_at = (SELECT max(occurred_at) FROM ops.audit_log
                                    WHERE entity_type = 'routing' AND entity_id = :rules_version
                                      AND occurred_at <= :created))
            OR (entity_type IN ('action', 'actions') AND entity_id = :id)
            OR (entity_type = 'human_reviews' AND entity_id = ANY(:reviews))
            """,
            {
                "rules_version": str(e.get("rules_version") or ""),
                "created": action["created_at"],
                "id": str(action_id),
                "reviews": [str(r["id"]) for r in reviews]
                + [r["batch"] for r in reviews if r["batch"]],
            },
        )
    return {
        "action": action,
        "explanation": e,
        "item": e.get("item") or {},
        "conditions": e.get("conditions") or [],
        "sentiment": sentiment,
        "signals": signals_of(sentiment.get("explanation")),
        "sentiment_reason": (sentiment.get("explanation") or {}).get("reason"),
        "customer": {k: customer.get(k) for k in _CUSTOMER_SHOWN if k in customer},
        "known_customer": bool(customer.get("contact_id")),
        "payload": {k: payload[k] for k in _PAYLOAD_SHOWN if payload.get(k) not in (None, "")},
        "offer": e.get("offer"),
        # A usage milestone's action: what was counted, for whom, when (no sentiment).
        "milestone": e.get("milestone"),
        "milestone_words": milestone_words(e["milestone"]) if e.get("milestone") else None,
        "attempts": action.get("attempt_rows") or [],
        "reviews": reviews,
        "audit": audit,
    }


_ITEM_ID = re.compile(r"^[A-Za-z0-9._:@\-]{1,128}$")


def item_detail(engine: Engine, item_type: str, source: str, source_id: str) -> dict | None:
    """The item's (masked) text, its scores, topic, actions and reviews; None if unknown."""
    if item_type not in ITEM_TYPES or not _ITEM_ID.match(source) or not _ITEM_ID.match(source_id):
        return None
    key = {"t": item_type, "s": source, "i": source_id}
    match = "item_type = :t AND item_source = :s AND item_source_id = :i"
    with engine.connect() as conn:
        body = item_text(conn, (item_type, source, source_id))
        scores = [
            r._asdict()
            for r in conn.execute(
                text(
                    "SELECT model_version, label, sentiment, frustrated, language, explanation, "
                    f"scored_at FROM nlp.feedback_scores WHERE {match} ORDER BY scored_at DESC"
                ),
                key,
            )
        ]
        topic = conn.execute(
            text(
                "SELECT a.cluster_id, a.topic_key, c.label FROM nlp.topic_assignments a "
                "LEFT JOIN nlp.clusters c ON c.cluster_id = a.cluster_id "
                f"WHERE a.{match.replace(' AND ', ' AND a.')}"
            ),
            key,
        ).first()
        reviews = [
            r._asdict()
            for r in conn.execute(
                text(
                    "SELECT id, batch, action_id, reviewer, verdict, sentiment_label, "
                    f"reviewed_at FROM ops.human_reviews WHERE {match} ORDER BY id"
                ),
                key,
            )
        ]
    actions = find_actions(engine, f"{item_type}:{source}:{source_id}")
    if body is None and not scores and not actions:
        return None
    shown = body or ""
    return {
        "item_type": item_type,
        "source": source,
        "source_id": source_id,
        "text": shown[:TEXT_SHOWN],
        "text_cut": len(shown) > TEXT_SHOWN,
        "scores": scores,
        "signals": signals_of(scores[0]["explanation"]) if scores else [],
        "topic": topic._asdict() if topic else None,
        "actions": [
            {
                **{k: a[k] for k in ("id", "rule", "action_type", "status", "created_at")},
                "conditions": (a["explanation"] or {}).get("conditions") or [],
                "skipped": (a["explanation"] or {}).get("skipped"),
            }
            for a in actions
        ],
        "reviews": reviews,
    }


# ---------------------------------------------------------------------------- failures


@dataclass
class Failures:
    since: datetime
    flow_runs: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    pings: list[dict[str, Any]]
    # Failed dashboard logins (masked): listed on /failures, not counted in `total`.
    logins: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.flow_runs) + len(self.actions) + len(self.pings)

    def newest(self, n: int) -> list[dict[str, Any]]:
        """The `n` newest failures of any kind, as (kind, when, what, detail, link) rows."""
        rows = [
            {
                "kind": "flow run",
                "when": r["ended_at"],
                "what": f"{r['flow_name']} {r['state'].lower()}",
                "detail": r["error"],
                "link": None,
            }
            for r in self.flow_runs
        ]
        rows += [
            {
                "kind": "action",
                "when": r["created_at"],
                "what": f"#{r['id']} {r['action_type']} ({r['rule']})",
                "detail": r["last_error"],
                "link": f"/actions/{r['id']}",
            }
            for r in self.actions
        ]
        rows += [
            {
                "kind": "health check",
                "when": r["checked_at"],
                "what": r["check_name"],
                "detail": _ping_detail(r["detail"]),
                "link": None,
            }
            for r in self.pings
        ]
        rows.sort(key=lambda r: r["when"] or datetime.min.replace(tzinfo=UTC), reverse=True)
        return rows[:n]


def _ping_detail(detail: Mapping[str, Any] | None) -> str:
    if not detail:
        return ""
    for key in ("error", "reason", "detail"):
        if detail.get(key):
            return str(detail[key])
    return ", ".join(f"{k}={v}" for k, v in detail.items())


def failures(engine: Engine, now: datetime, days: int = 14, limit: int = 100) -> Failures:
    """Failed or crashed flow runs, actions that failed for good, failed health checks,
    failed dashboard logins."""
    since = now - timedelta(days=days)
    params = {"since": since, "n": limit}
    with engine.connect() as conn:

        def rows(sql: str) -> list[dict[str, Any]]:
            return _dicts(conn, sql, **params)

        return Failures(
            since,
            rows(
                "SELECT flow_name, deployment, state, started_at, ended_at, error "
                "FROM ops.flow_runs WHERE lower(state) IN ('failed', 'crashed') "
                "AND ended_at >= :since ORDER BY ended_at DESC LIMIT :n"
            ),
            rows(
                "SELECT id, created_at, rule, action_type, target, attempts, last_error "
                "FROM ops.actions WHERE status = 'failed' AND created_at >= :since "
                "ORDER BY id DESC LIMIT :n"
            ),
            rows(
                "SELECT checked_at, check_name, latency_ms, detail FROM ops.health_pings "
                "WHERE NOT ok AND checked_at >= :since ORDER BY checked_at DESC LIMIT :n"
            ),
            rows(
                "SELECT occurred_at, client_network, client_key, user_key, known_user, reason, "
                "locked_seconds FROM ops.login_failures WHERE occurred_at >= :since "
                "ORDER BY occurred_at DESC, id DESC LIMIT :n"
            ),
        )


def ops_health(reader: MartReader, today: date, days: int = 14) -> list[dict[str, Any]]:
    """Components with failures per day (mart_ops_health), newest first."""
    with reader.connect() as conn:
        return _dicts(
            conn,
            f"""
            SELECT health_date, component_type, component, events, failures, failure_share
            FROM {MARTS}.mart_ops_health
            WHERE failures > 0 AND health_date >= :first
            ORDER BY health_date DESC, failures DESC, component LIMIT 200
            """,
            first=today - timedelta(days=days),
        )


def survey_funnel(reader: MartReader, today: date, weeks: int = 8) -> list[dict[str, Any]]:
    """Survey sends, opens and answers of the last `weeks` ISO weeks (mart_survey_funnel),
    newest week first, the largest groups first."""
    with reader.connect() as conn:
        return _dicts(
            conn,
            f"""
            SELECT iso_week, template, rule, segment, survey_sends, survey_opens,
                   survey_answers, open_rate, response_rate
            FROM {MARTS}.mart_survey_funnel
            WHERE week_start >= :first
            ORDER BY week_start DESC, survey_sends DESC, template, rule, segment LIMIT 40
            """,
            first=today - timedelta(weeks=weeks),
        )


# --------------------------------------------------------------------------------- FAQ

# What may follow a cluster's newest decision (feedbackloop.faq.NEXT), as dashboard buttons.
_FAQ_BUTTONS = {
    None: ("accepted", "rejected"),
    "rejected": ("accepted",),
    "accepted": ("rejected",),
}


def faq_candidates(reader: MartReader, engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """Candidates of the last marts build (via bi_reader), with any decision made since."""
    with reader.connect() as conn:
        rows = _dicts(
            conn,
            f"""
            SELECT cluster_id, topic_key, cluster_label, key_phrases, cluster_size,
                   items_in_window, trend, share_negative, example_1, example_2, example_3,
                   previous_decision, window_days, min_similar
            FROM {MARTS}.mart_faq_candidates
            ORDER BY items_in_window DESC, cluster_id LIMIT :n
            """,
            n=limit,
        )
    ids = [r["cluster_id"] for r in rows]
    with engine.connect() as conn:
        latest = {
            r.cluster_id: r
            for r in conn.execute(
                text(
                    """
                    SELECT DISTINCT ON (cluster_id) cluster_id, decision, decided_by, decided_at
                    FROM ops.faq_decisions WHERE cluster_id = ANY(:ids)
                    ORDER BY cluster_id, decided_at DESC, id DESC
                    """
                ),
                {"ids": ids},
            )
        }
    for r in rows:
        decided = latest.get(r["cluster_id"])
        r["decision"] = decided.decision if decided else None
        r["decided_by"] = decided.decided_by if decided else None
        r["decided_at"] = decided.decided_at if decided else None
        r["examples"] = [e for e in (r["example_1"], r["example_2"], r["example_3"]) if e]
        r["buttons"] = _FAQ_BUTTONS.get(r["decision"], ())
    return rows


def counts(engine: Engine) -> dict[str, int]:
    """Queued reviews (for the landing page's links)."""
    with engine.connect() as conn:
        queued = conn.execute(
            text(
                "SELECT count(*) FROM ops.human_reviews "
                "WHERE batch IS NOT NULL AND reviewed_at IS NULL"
            )
        ).scalar_one()
    return {"reviews": int(queued)}


def recently_rated(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return _dicts(
            conn,
            "SELECT id, action_id, verdict, sentiment_label, reviewer, reviewed_at "
            "FROM ops.human_reviews WHERE reviewed_at IS NOT NULL "
            "ORDER BY reviewed_at DESC, id DESC LIMIT :n",
            n=limit,
        )


# -------------------------------------------------------------------------- governance

# What the Data Docs site may serve, by suffix (GX writes pages, its static styles and images).
DOCS_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".otf": "font/otf",
}


@dataclass
class ExpectationResult:
    suite: str
    expectation: str
    column: str
    success: bool
    unexpected_count: int | None
    element_count: int | None
    observed_value: float | int | None


@dataclass
class CheckpointRun:
    """The newest run of one checkpoint, its expectations and where its Data Docs pages are."""

    checkpoint: str
    run_id: int
    run_at: datetime
    batch: str | None
    success: bool
    evaluated: int
    failed: int
    runs: int
    failed_runs: int
    expectations: list[ExpectationResult]
    errors: list[str]
    # Suite -> dashboard URL of its result page; None when the page is not (yet) rendered.
    docs: dict[str, str | None]

    @property
    def failed_expectations(self) -> int:
        return sum(1 for e in self.expectations if not e.success)


def docs_file(root: Path, relative: str) -> Path | None:
    """The file `relative` names inside the Data Docs site `root`, or None: nothing outside
    the site (no `..`, no absolute path, no symlink out), only the types in DOCS_TYPES."""
    if not relative or "\x00" in relative or "\\" in relative or relative.startswith("/"):
        return None
    try:
        base = root.resolve(strict=True)
        path = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path if path.suffix.lower() in DOCS_TYPES else None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _docs_url(root: Path, page: Any) -> str | None:
    if not isinstance(page, str) or docs_file(root, page) is None:
        return None
    return "/governance/docs/" + quote(page)


def governance(engine: Engine, docs_root: Path) -> list[CheckpointRun]:
    """The latest validation run per checkpoint (ops.validation_runs), newest result of each
    expectation with its failing count, and links to the Data Docs pages that exist."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT * FROM (
                    SELECT id, coalesce(checkpoint, suite) AS name, batch, success, evaluated,
                           failed, results, run_at,
                           row_number() OVER (PARTITION BY coalesce(checkpoint, suite)
                                              ORDER BY run_at DESC, id DESC) AS n,
                           count(*) OVER (PARTITION BY coalesce(checkpoint, suite)) AS runs,
                           count(*) FILTER (WHERE NOT success)
                               OVER (PARTITION BY coalesce(checkpoint, suite)) AS failed_runs
                    FROM ops.validation_runs
                ) latest WHERE n = 1 ORDER BY name
                """
            )
        ).all()
    out = []
    for r in rows:
        results = r.results if isinstance(r.results, Mapping) else {}
        expectations = [
            ExpectationResult(
                suite=str(e.get("suite") or ""),
                expectation=str(e.get("expectation") or ""),
                column=str(e.get("column") or ""),
                success=bool(e.get("success")),
                unexpected_count=_count(e.get("unexpected_count")),
                element_count=_count(e.get("element_count")),
                # Numbers only: an observed value can be a value from the data.
                observed_value=_number(e.get("observed_value")),
            )
            for e in results.get("expectations") or []
            if isinstance(e, Mapping)
        ]
        pages = results.get("pages") if isinstance(results.get("pages"), Mapping) else {}
        suites = sorted({e.suite for e in expectations} | set(pages))
        out.append(
            CheckpointRun(
                checkpoint=r.name,
                run_id=r.id,
                run_at=r.run_at,
                batch=r.batch,
                success=r.success,
                evaluated=r.evaluated,
                failed=r.failed,
                runs=int(r.runs),
                failed_runs=int(r.failed_runs),
                expectations=expectations,
                errors=[str(e) for e in results.get("errors") or []],
                docs={s: _docs_url(docs_root, pages.get(s)) for s in suites},
            )
        )
    return out
