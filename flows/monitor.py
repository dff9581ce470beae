"""health-ping: is everything the loop depends on answering, and is every scheduled flow
running, are the dbt sources fresh? One row per check in `ops.health_pings`; alerts on the
second failure in a row and a recovery message when it clears."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from feedbackloop.config import get_settings
from feedbackloop.db import ensure_ready
from feedbackloop.monitoring import health, runs
from feedbackloop.monitoring.runs import RUN_HOOKS

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


@task(retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def prepare_database() -> Engine:
    return ensure_ready(get_settings())


@task(cache_policy=NO_CACHE, timeout_seconds=120)
def run_checks(engine: Engine) -> list[health.Check]:
    settings = get_settings()
    checks = [health.check_database(engine)]
    if (prefect := health.check_prefect_api()) is not None:
        checks.append(prefect)
    checks += health.check_sources(settings)
    checks.append(health.check_outbox(engine))
    if PREFECT_YAML.exists():
        checks += health.check_flow_freshness(engine, health.expected_flow_periods(PREFECT_YAML))
    checks.append(health.check_source_freshness(settings))
    return checks


@task(retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def record(engine: Engine, checks: list[health.Check]) -> health.PingResult:
    return health.record_pings(engine, checks)


@task(retries=3, retry_delay_seconds=[5, 15, 30], cache_policy=NO_CACHE)
def send_alerts(result: health.PingResult) -> int:
    from feedbackloop.monitoring.alerts import send_owner_alert

    for change, check in result.alerts:
        send_owner_alert(health.alert_text(change, check))
    return len(result.alerts)


@task(retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def mark_vanished_runs(engine: Engine) -> list[runs.VanishedRun]:
    return runs.mark_vanished_runs(engine)


@task(retries=3, retry_delay_seconds=[5, 15, 30], cache_policy=NO_CACHE)
def send_crash_alerts(vanished: list[runs.VanishedRun]) -> int:
    return runs.send_vanished_alerts(vanished)


@flow(
    name="health-ping",
    description="Database, Prefect API, sources, outbox backlog, flow and source freshness.",
    timeout_seconds=300,
    **RUN_HOOKS,
)
def health_ping(alert: bool = True) -> health.PingResult:
    """`alert=False` records the checks without messaging anyone (the demo pings this way)."""
    logger = get_run_logger()
    engine = prepare_database()
    checks = run_checks(engine)
    vanished: list[runs.VanishedRun] = []
    if alert:  # marked Crashed without an alert, a killed run would go unnoticed
        vanished = mark_vanished_runs(engine)
        checks.append(health.vanished_runs_check(vanished))
    result = record(engine, checks)
    sent = send_alerts(result) + send_crash_alerts(vanished) if alert else 0
    failing = [c.name for c in result.checks if not c.ok]
    logger.info("%s checks, failing: %s, alerts sent: %s", len(result.checks), failing, sent)
    return result
