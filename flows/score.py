"""score_feedback: every new or changed feedback item scored once, scores checked by GX.

The routing rules decide in the transaction that writes each batch of scores, so a score and
the actions it causes commit together (route-actions sends them, and catches up on any item
scored without a decision).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from expectations.checkpoints import Outcome, Validator
from feedbackloop.config import ConfigError, get_settings
from feedbackloop.db import database_url, ensure_ready
from feedbackloop.governance.gate import record_run
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.routing import DecideReport, RulesFile, rules_from_settings, scored_hook
from feedbackloop.scoring import ScoreReport, newest_approved_model, score_pending
from nlp import load_pipeline


@task(retries=3, retry_delay_seconds=[2, 5, 10], cache_policy=NO_CACHE)
def prepare_database() -> Engine:
    return ensure_ready(get_settings())


@task(cache_policy=NO_CACHE)
def load_scorer() -> Any:
    return load_pipeline(newest_approved_model(get_settings()))


@task(cache_policy=NO_CACHE)
def load_routing_rules() -> RulesFile | None:
    """The rules, or None when the file is invalid: scoring goes on without deciding, and the
    route-actions flow fails on the same file with the error naming the rule and field."""
    try:
        return rules_from_settings(get_settings())
    except ConfigError as exc:
        get_run_logger().warning("scoring without routing decisions: %s", exc)
        return None


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE, timeout_seconds=3600)
def score_new_items(
    engine: Engine, scorer: Any, rules: RulesFile | None
) -> tuple[ScoreReport, DecideReport]:
    decided = DecideReport()
    hook = None if rules is None else scored_hook(rules, report=decided)
    return score_pending(engine, scorer, on_scored=hook), decided


@task(cache_policy=NO_CACHE)
def check_scores(engine: Engine) -> Outcome:
    settings = get_settings()
    url = database_url(settings).render_as_string(hide_password=False)
    validator = Validator(settings, url, known_sources=settings.known_sources)
    outcome = validator.check_scores()
    docs = validator.data_docs_index
    with engine.begin() as conn:
        record_run(conn, outcome, batch="nlp.feedback_scores", data_docs_path=str(docs))
    return outcome


@flow(name="score-feedback", **RUN_HOOKS)
def score_feedback(route: bool = True) -> ScoreReport:
    """`route=False` scores without routing decisions (route-actions decides later)."""
    logger = get_run_logger()
    engine = prepare_database()
    scorer = load_scorer()
    rules = load_routing_rules() if route else None
    report, decided = score_new_items(engine, scorer, rules)
    outcome = check_scores(engine)
    if not outcome.success:
        raise RuntimeError(f"scored feedback failed its checks: {outcome.summary()}")
    logger.info(
        "scored %s items with %s; routing decided %s actions %s",
        report.scored,
        report.model_version,
        decided.decided,
        dict(decided.actions),
    )
    return report
