"""feedback_loop: the whole loop as far as it is built, one subflow or task per stage.

collect (every configured source, stored webhook deliveries) -> score (routing decisions in
the same transactions) -> route (send the outbox), with topics clustering beside score and
route -> marts. Governance runs inside each stage (masking before storage, quarantine, audit).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from feedbackloop.forked import Gate
from feedbackloop.marts import DbtResult
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from flows._resources import prepare_resources
from flows.ingest import process_webhooks, pull_reviews, pull_tickets
from flows.learning import assign_beside, log_topics
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
        # dbt parses the project while the events child finishes: the build below skips it
        collected["zendesk"] = pull_tickets(prepare_marts=True)
    if settings.reviews_base_url:
        collected["app_store"] = pull_reviews()
    collected["webhooks"] = process_webhooks(score=False)  # scored below with the rest
    if not settings.zendesk_base_url and not settings.reviews_base_url:
        logger.warning("no API source configured (FEEDBACKLOOP_ZENDESK_*, FEEDBACKLOOP_REVIEWS_*)")
    # Topics need the collected items, not their scores: they cluster beside scoring (a
    # forked child) and write after the decisions, so these see the topics they saw when
    # topics came after them; joined before the marts.
    with Gate() as decided:
        clustering = assign_beside.submit(res, decided)
        try:
            scores = score_feedback()
            decided.open()
            # Not strict: a target missing from the settings leaves its actions pending (the
            # health ping alerts on the backlog) rather than holding back the marts.
            routed = route_actions(strict=False)
        except BaseException:
            decided.open()  # the topics run stands alone: it writes even if scoring failed
            clustering.wait()
            raise
        topics = clustering.result()
    log_topics(topics)
    marts = build_models(res)
    return {
        "collected": collected,
        "scores": scores,
        "routed": routed,
        "topics": topics,
        "marts": marts,
    }
