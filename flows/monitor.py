"""health-ping: is everything the loop depends on answering, and is every scheduled flow
running, are the dbt sources fresh? One row per check in `ops.health_pings`; alerts on the
second failure in a row and a recovery message when it clears."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from feedbackloop.monitoring import health, runs
from feedbackloop.monitoring.alerts import send_owner_alert
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from flows._resources import prepare_resources

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


@task(cache_policy=NO_CACHE, timeout_seconds=120)
def run_checks(res: Resources) -> list[health.Check]:
    checks = [health.check_database(res.engine)]
    if (prefect := health.check_prefect_api()) is not None:
        checks.append(prefect)
    checks += health.check_sources(res.settings)
    checks.append(health.check_outbox(res.engine))
    if PREFECT_YAML.exists():
        expected = health.expected_flow_periods(PREFECT_YAML)
        checks += health.check_flow_freshness(res.engine, expected)
    checks.append(health.check_source_freshness(res.settings))
    return checks


@task(retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def record(res: Resources, checks: list[health.Check]) -> health.PingResult:
    return health.record_pings(res.engine, checks)


@task(retries=3, retry_delay_seconds=[5, 15, 30], cache_policy=NO_CACHE)
def send_alerts(res: Resources, result: health.PingResult) -> int:
    for change, check in result.alerts:
        send_owner_alert(health.alert_text(change, check), res.settings)
    return len(result.alerts)


@task(retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def mark_vanished_runs(res: Resources) -> list[runs.VanishedRun]:
    return runs.mark_vanished_runs(res.engine)


@task(retries=3, retry_delay_seconds=[5, 15, 30], cache_policy=NO_CACHE)
def send_crash_alerts(res: Resources, vanished: list[runs.VanishedRun]) -> int:
    return runs.send_vanished_alerts(vanished, res.settings)


@flow(
    name="health-ping",
    description="Database, Prefect API, sources, outbox backlog, flow and source freshness.",
    timeout_seconds=300,
    **RUN_HOOKS,
)
def health_ping(alert: bool = True) -> health.PingResult:
    """`alert=False` records the checks without messaging anyone (the demo pings this way)."""
    logger = get_run_logger()
    res = prepare_resources.with_options(retries=2, retry_delay_seconds=[2, 5])()
    checks = run_checks(res)
    vanished: list[runs.VanishedRun] = []
    if alert:  # marked Crashed without an alert, a killed run would go unnoticed
        vanished = mark_vanished_runs(res)
        checks.append(health.vanished_runs_check(vanished))
    result = record(res, checks)
    sent = send_alerts(res, result) + send_crash_alerts(res, vanished) if alert else 0
    failing = [c.name for c in result.checks if not c.ok]
    logger.info("%s checks, failing: %s, alerts sent: %s", len(result.checks), failing, sent)
    return result
