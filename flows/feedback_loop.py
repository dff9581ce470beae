"""feedback_loop: the whole loop as far as it is built, one subflow per stage.

collect (every configured source, stored webhook deliveries) -> score -> marts. Governance
runs inside each stage (masking before storage, quarantine, audit); routing and learning join
here when they are built.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from feedbackloop.config import get_settings
from feedbackloop.marts import DbtResult, build_marts
from feedbackloop.monitoring.runs import RUN_HOOKS
from flows.ingest import process_webhooks, pull_reviews, pull_tickets
from flows.score import score_feedback


@task(cache_policy=NO_CACHE, timeout_seconds=1800)
def build_models() -> DbtResult:
    return build_marts(get_settings(), quiet=True)


@flow(name="feedback-loop", **RUN_HOOKS)
def feedback_loop() -> dict[str, Any]:
    logger = get_run_logger()
    settings = get_settings()
    collected: dict[str, Any] = {}
    if settings.zendesk_base_url:
        collected["zendesk"] = pull_tickets()
    if settings.reviews_base_url:
        collected["app_store"] = pull_reviews()
    collected["webhooks"] = process_webhooks(score=False)  # scored below with the rest
    if not settings.zendesk_base_url and not settings.reviews_base_url:
        logger.warning("no API source configured (FEEDBACKLOOP_ZENDESK_*, FEEDBACKLOOP_REVIEWS_*)")
    scores = score_feedback()
    marts = build_models()
    return {"collected": collected, "scores": scores, "marts": marts}
