"""Health pings: each check is one row in `ops.health_pings`; a check that fails twice in a
row alerts once, and its first success after that sends a recovery message.

Checks: the database, the Prefect API (when `PREFECT_API_URL` is set), each configured source,
the outbox backlog (pending actions and the age of the oldest), the age of the last
successful run of every scheduled flow (allowed: two schedule periods plus ten minutes), and
`dbt source freshness` (the limits in the dbt sources' `freshness:` blocks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import Connection, Engine, text

from feedbackloop.config import Settings

OUTBOX_MAX_AGE = timedelta(minutes=15)
# dbt parses the project and queries max(loaded_at) per source: a few seconds; more means a
# hung connection, which must not hold the 5-minute ping.
FRESHNESS_TIMEOUT_S = 60.0
# The pings' own table: a ping cannot report that pings stopped, and before the first ping
# it is empty (stale). `dbt source freshness` run by hand or by a scheduler still checks it.
FRESHNESS_EXCLUDE = ("source:ops.health_pings",)
Transition = Literal["alert", "recovered"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    latency_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _timed(name: str, probe: Callable[[], dict[str, Any] | None]) -> Check:
    started = time.perf_counter()
    try:
        detail = probe() or {}
    except Exception as exc:  # a check reports failure, it never raises
        return Check(name, False, _ms(started), {"error": type(exc).__name__})
    ok = bool(detail.pop("ok", True))
    return Check(name, ok, _ms(started), detail)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database(engine: Engine) -> Check:
    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return _timed("database", probe)


def check_prefect_api(api_url: str | None = None) -> Check | None:
    """The Prefect API flows report to (Prefect's own settings), when it is a server."""
    if api_url is None:
        from prefect.settings import get_current_settings

        api_url = get_current_settings().api.url
    if not api_url:
        return None  # in-process runs use the ephemeral API: nothing to reach

    def probe() -> dict[str, Any]:
        status = httpx.get(f"{api_url.rstrip('/')}/health", timeout=5).status_code
        return {"ok": status == 200, "status": status}

    return _timed("prefect_api", probe)


def check_sources(settings: Settings) -> list[Check]:
    """Each configured source answers an authenticated, cheap, documented request."""
    from feedbackloop.http import RetryPolicy

    # One quick attempt: a ping reports what it sees; the next ping is the retry.
    once = RetryPolicy(max_retries=0, max_rate_limit_waits=0)
    checks = []
    if settings.zendesk_base_url:
        from feedbackloop.sources.zendesk import ZendeskClient

        def zendesk() -> dict[str, Any]:
            # GET /api/v2/users/me: "Show Self", documented as the way to check credentials.
            with ZendeskClient.from_settings(settings, retry=once).http as http:
                http.get_json("/api/v2/users/me.json")
            return {}

        checks.append(_timed("source:zendesk", zendesk))
    if settings.reviews_base_url:
        from feedbackloop.sources.app_store import AppStoreClient

        def app_store() -> dict[str, Any]:
            client = AppStoreClient.from_settings(settings, retry=once)
            with client.http as http:
                http.get_json(f"/v1/apps/{client.app_id}")
            return {}

        checks.append(_timed("source:app_store", app_store))
    return checks


def check_outbox(engine: Engine, now: datetime | None = None) -> Check:
    now = now or datetime.now(UTC)

    def probe() -> dict[str, Any]:
        with engine.connect() as conn:
            pending, oldest = conn.execute(
                text(
                    "SELECT count(*), min(created_at) FROM ops.actions "
                    "WHERE status IN ('pending', 'sending')"
                )
            ).one()
            failed = conn.execute(
                text("SELECT count(*) FROM ops.actions WHERE status = 'failed'")
            ).scalar_one()
        age = (now - oldest).total_seconds() if oldest else 0.0
        return {
            "ok": age <= OUTBOX_MAX_AGE.total_seconds(),
            "pending": pending,
            "oldest_pending_age_s": round(age, 1),
            "failed": failed,
        }

    return _timed("outbox", probe)


def check_source_freshness(settings: Settings, timeout: float = FRESHNESS_TIMEOUT_S) -> Check:
    """`dbt source freshness`: ok unless a source is past its `error_after` (or dbt fails);
    sources past `warn_after` only are listed but stay ok."""
    from feedbackloop.marts import source_freshness

    def probe() -> dict[str, Any]:
        result = source_freshness(settings, exclude=FRESHNESS_EXCLUDE, timeout=timeout)
        detail: dict[str, Any] = {
            "ok": result.ok,
            "sources": len(result.statuses),
            "stale": result.named("error"),
            "warn": result.named("warn"),
        }
        if errors := result.named("runtime error"):
            detail["runtime_error"] = errors
        if not result.ok and not result.statuses:
            detail["dbt_exit_code"] = result.returncode  # dbt failed before checking anything
        return detail

    return _timed("source-freshness", probe)


def vanished_runs_check(vanished: Sequence[Any]) -> Check:
    """What `runs.mark_vanished_runs` found: runs left Running by a process that is gone,
    now Crashed (each is alerted on its own, at once)."""
    return Check("flow-runs", not vanished, None, {"crashed": [r.flow_run_id for r in vanished]})


def cron_period(cron: str) -> timedelta:
    """The period of the cron forms `prefect.yaml` uses (`* * * * *`, `*/N * * * *`,
    `M * * * *`, `M H * * *`); anything else counts as daily."""
    minute, hour, *rest = cron.split()
    if any(part != "*" for part in rest):
        return timedelta(days=7)
    if hour == "*" and minute == "*":
        return timedelta(minutes=1)
    if hour == "*" and minute.startswith("*/"):
        return timedelta(minutes=int(minute[2:]))
    if hour == "*" and minute.isdigit():
        return timedelta(hours=1)
    return timedelta(days=1)


def expected_flow_periods(prefect_yaml: Path) -> dict[str, timedelta]:
    """Flow name -> shortest active schedule period, from `prefect.yaml`."""
    from feedbackloop.deployments import read_prefect_yaml

    periods: dict[str, timedelta] = {}
    for spec in read_prefect_yaml(prefect_yaml):
        active = [cron_period(s["cron"]) for s in spec.schedules if s.get("active", True)]
        if active and "cron" in spec.schedules[0]:
            name = spec.flow_name
            periods[name] = min([*active, periods.get(name, timedelta.max)])
    return periods


def check_flow_freshness(
    engine: Engine, periods: dict[str, timedelta], now: datetime | None = None
) -> list[Check]:
    """Per scheduled flow: age of its last completed run against two periods + 10 minutes.
    A flow that never completed is not judged until it has had that long since the first
    ping saw it (so a fresh install does not alert)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        last = dict(
            conn.execute(
                text(
                    "SELECT flow_name, max(ended_at) FROM ops.flow_runs "
                    "WHERE state = 'Completed' GROUP BY flow_name"
                )
            ).all()
        )
        first_seen = dict(
            conn.execute(
                text(
                    "SELECT substr(check_name, 6), min(checked_at) FROM ops.health_pings "
                    "WHERE check_name LIKE 'flow:%' GROUP BY 1"
                )
            ).all()
        )
    checks = []
    for flow, period in sorted(periods.items()):
        allowed = 2 * period + timedelta(minutes=10)
        since = last.get(flow) or first_seen.get(flow) or now
        age = (now - since).total_seconds()
        checks.append(
            Check(
                f"flow:{flow}",
                age <= allowed.total_seconds(),
                None,
                {
                    "last_success": last[flow].isoformat() if flow in last else None,
                    "age_s": round(age, 1),
                    "allowed_s": allowed.total_seconds(),
                },
            )
        )
    return checks


def transition(history: Sequence[bool], ok: bool) -> Transition | None:
    """`history`: earlier results of one check, newest first. Alert on the second failure in
    a row (not on later ones: no storms); recover on the first success after an alert."""
    if not ok:
        if history[:1] == [False] and history[1:2] != [False]:
            return "alert"
        return None
    if history[:2] == [False, False]:
        return "recovered"
    return None


def _history(conn: Connection, name: str, limit: int = 2) -> list[bool]:
    rows = conn.execute(
        text(
            "SELECT ok FROM ops.health_pings WHERE check_name = :n "
            "ORDER BY checked_at DESC, id DESC LIMIT :l"
        ),
        {"n": name, "l": limit},
    ).scalars()
    return list(rows)


@dataclass(frozen=True)
class PingResult:
    checks: list[Check]
    alerts: list[tuple[Transition, Check]]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def record_pings(engine: Engine, checks: Sequence[Check]) -> PingResult:
    """Store one row per check and return the alert / recovery transitions to send."""
    alerts: list[tuple[Transition, Check]] = []
    with engine.begin() as conn:
        # One ping at a time: two overlapping runs must not both send the same alert.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('feedbackloop.health_ping'))"))
        for check in checks:
            change = transition(_history(conn, check.name), check.ok)
            if change:
                alerts.append((change, check))
            conn.execute(
                text(
                    "INSERT INTO ops.health_pings (check_name, ok, latency_ms, detail) "
                    "VALUES (:n, :ok, :ms, CAST(:d AS jsonb))"
                ),
                {"n": check.name, "ok": check.ok, "ms": check.latency_ms, "d": _json(check.detail)},
            )
    return PingResult(list(checks), alerts)


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, default=str)


def alert_text(change: Transition, check: Check) -> str:
    if change == "alert":
        return f":red_circle: health check `{check.name}` failed twice in a row: {check.detail}"
    return f":large_green_circle: health check `{check.name}` recovered"
