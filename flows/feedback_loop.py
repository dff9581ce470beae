"""feedback_loop: the whole loop as far as it is built, one subflow per stage.

collect (every configured source, stored webhook deliveries) -> score (routing decisions in
the same transactions) -> route (send the outbox) -> topics -> marts. Governance runs inside
each stage (masking before storage, quarantine, audit).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from feedbackloop.marts import DbtResult
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from flows._resources import prepare_resources
from flows.ingest import process_webhooks, pull_reviews, pull_tickets
from flows.learning import cluster_topics
from flows.route import route_actions
from flows.score import score_feedback


@task(cache_policy=NO_CACHE, timeout_seconds=1800)
def build_models(res: Resources) -> DbtResult:
    return res.dbt.build(quiet=True)


@flow(
    name="feedback-loop",
    description="The whole loop: collect, score and decide, route, topics, marts.",
    timeout_seconds=3 * 3600,
    **RUN_HOOKS,
)
def feedback_loop() -> dict[str, Any]:
    logger = get_run_logger()
    res = prepare_resources()
    settings = res.settings
    collected: dict[str, Any] = {}
    if settings.zendesk_base_url:
        collected["zendesk"] = pull_tickets()
    if settings.reviews_base_url:
        collected["app_store"] = pull_reviews()
    collected["webhooks"] = process_webhooks(score=False)  # scored below with the rest
    if not settings.zendesk_base_url and not settings.reviews_base_url:
        logger.warning("no API source configured (FEEDBACKLOOP_ZENDESK_*, FEEDBACKLOOP_REVIEWS_*)")
    scores = score_feedback()
    # Not strict: a target missing from the settings leaves its actions pending (the health
    # ping alerts on the backlog) rather than holding back the marts.
    routed = route_actions(strict=False)
    topics = cluster_topics()
    marts = build_models(res)
    return {
        "collected": collected,
        "scores": scores,
        "routed": routed,
        "topics": topics,
        "marts": marts,
    }
