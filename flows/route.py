"""route_actions: scored feedback -> the ops.actions outbox -> Slack, Zendesk and HubSpot.

Decide first (items scored since the last run; every recent item when the rules changed),
then dispatch what is due. Both steps are idempotent: a retried task or a rerun decides and
sends nothing twice.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from feedbackloop.routing import (
    DecideReport,
    DispatchReport,
    RouteReport,
    RulesFile,
    decide_pending,
    dispatch,
    require_targets,
    rules_from_settings,
)
from flows._resources import prepare_resources


@task(cache_policy=NO_CACHE)
def load_routing_rules(res: Resources, dispatching: bool) -> RulesFile:
    """The rules file, validated; with `dispatching`, every live rule's target must be set."""
    rules = rules_from_settings(res.settings)
    if dispatching:
        require_targets(rules, res.settings)
    return rules


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE, timeout_seconds=1800)
def decide_new_items(res: Resources, rules: RulesFile, full: bool) -> DecideReport:
    return decide_pending(res.engine, rules, full=full)


@task(retries=3, retry_delay_seconds=[10, 30, 60], cache_policy=NO_CACHE, timeout_seconds=1800)
def dispatch_outbox(res: Resources) -> DispatchReport:
    with res.targets() as targets:
        return dispatch(res.engine, res.settings, targets=targets)


@flow(
    name="route-actions",
    description="Decide for newly scored items and send the due actions of the outbox.",
    timeout_seconds=3600,
    **RUN_HOOKS,
)
def route_actions(send: bool = True, full: bool = False, strict: bool = True) -> RouteReport:
    """`send=False` decides only; `full=True` re-evaluates every recent scored item;
    `strict=False` dispatches what has a target and leaves the rest pending (the health ping
    alerts on the backlog) instead of failing when a live rule's target is not configured."""
    logger = get_run_logger()
    res = prepare_resources()
    rules = load_routing_rules(res, send and strict)
    decided = decide_new_items(res, rules, full)
    dispatched = dispatch_outbox(res) if send else None
    logger.info(
        "decided %s actions %s for %s items; %s",
        decided.decided,
        dict(decided.actions),
        decided.items,
        "dispatch skipped"
        if dispatched is None
        else f"sent {dispatched.sent}, failed {dispatched.failed}, retrying {dispatched.retrying}",
    )
    return RouteReport(decided=decided, dispatched=dispatched)
