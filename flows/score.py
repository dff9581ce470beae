"""score_feedback: every new or changed feedback item scored once, scores checked by GX.

The routing rules decide in the transaction that writes each batch of scores, so a score and
the actions it causes commit together (route-actions sends them, and catches up on any item
scored without a decision).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from expectations.checkpoints import Outcome
from feedbackloop.config import ConfigError, Settings
from feedbackloop.db import get_engine
from feedbackloop.governance.gate import record_run
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from feedbackloop.routing import DecideReport, RulesFile, rules_from_settings, scored_hook
from feedbackloop.scoring import (
    KeyRange,
    ScoreReport,
    distribution,
    merge_reports,
    model_version_of,
    newest_approved_model,
    pending_ranges,
    score_pending,
)
from feedbackloop.surveys import SurveyLinks
from flows._resources import prepare_resources
from nlp import load_pipeline


@task(cache_policy=NO_CACHE)
def load_scorer(res: Resources) -> Any:
    return load_pipeline(newest_approved_model(res.settings), **res.settings.sentiment_options())


@lru_cache(maxsize=2)
def _pipeline(model_dir: str | None, options: tuple[tuple[str, Any], ...]) -> Any:
    # One pipeline per worker process, loaded by its first partition (the parent exported
    # the encoder to the state dir already: workers only load it).
    return load_pipeline(model_dir, **dict(options))


def dask_task_runner(settings: Settings) -> Any:
    """prefect-dask's runner: the configured scheduler, or a LocalCluster of processes."""
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


@task(cache_policy=NO_CACHE)
def load_routing_rules(res: Resources) -> RulesFile | None:
    """The rules, or None when the file is invalid: scoring goes on without deciding, and the
    route-actions flow fails on the same file with the error naming the rule and field."""
    try:
        return rules_from_settings(res.settings)
    except ConfigError as exc:
        get_run_logger().warning("scoring without routing decisions: %s", exc)
        return None


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE, timeout_seconds=3600)
def score_new_items(
    res: Resources, scorer: Any, rules: RulesFile | None
) -> tuple[ScoreReport, DecideReport]:
    decided = DecideReport()
    links = SurveyLinks.from_settings(res.settings)
    hook = None if rules is None else scored_hook(rules, report=decided, links=links)
    return score_pending(res.engine, scorer, on_scored=hook), decided


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE, timeout_seconds=3600)
def score_partition(
    key_range: KeyRange, settings: Settings, model_dir: str | None, rules: RulesFile | None
) -> tuple[ScoreReport, DecideReport]:
    """One key range, on whichever worker runs it: its own connection pool (from the settings
    it is handed) and pipeline. A retry rescores only what is still pending in the range."""
    decided = DecideReport()
    links = SurveyLinks.from_settings(settings)
    hook = None if rules is None else scored_hook(rules, report=decided, links=links)
    report = score_pending(
        get_engine(settings),
        _pipeline(model_dir, tuple(sorted(settings.sentiment_options().items()))),
        key_range=key_range,
        on_scored=hook,
        with_totals=False,
    )
    return report, decided


@flow(
    name="score-partitions",
    description="Score key ranges of pending items on the task runner (Dask when configured).",
    timeout_seconds=3 * 3600,
)
def score_partitions(
    ranges: list[KeyRange], settings: Settings, model_dir: str | None, rules: RulesFile | None
) -> tuple[list[ScoreReport], DecideReport]:
    """Every key range as a task on the flow's task runner (Dask when configured)."""
    futures = [score_partition.submit(r, settings, model_dir, rules) for r in ranges]
    results = [f.result() for f in futures]
    decided = DecideReport()
    for _, part in results:
        decided.add(part)
    return [report for report, _ in results], decided


def score_on_dask(
    res: Resources, scorer: Any, rules: RulesFile | None
) -> tuple[ScoreReport, DecideReport]:
    settings = res.settings
    parts = settings.score_partitions or (8 if settings.dask_address else 2 * settings.dask_workers)
    version = model_version_of(scorer)
    ranges = pending_ranges(res.engine, version, parts)
    model = newest_approved_model(settings)
    reports, decided = score_partitions.with_options(task_runner=dask_task_runner(settings))(
        ranges, settings, None if model is None else str(model), rules
    )
    report = merge_reports(version, reports)
    report.totals = distribution(res.engine, version)
    return report, decided


@task(cache_policy=NO_CACHE)
def check_scores(res: Resources) -> Outcome:
    validator = res.validator
    outcome = validator.check_scores()
    docs = validator.data_docs_index
    with res.engine.begin() as conn:
        record_run(conn, outcome, batch="nlp.feedback_scores", data_docs_path=str(docs))
    return outcome


@flow(
    name="score-feedback",
    description="Score every new or changed item; routing decides in the same transaction.",
    timeout_seconds=3 * 3600,
    **RUN_HOOKS,
)
def score_feedback(route: bool = True) -> ScoreReport:
    """`route=False` scores without routing decisions (route-actions decides later)."""
    logger = get_run_logger()
    res = prepare_resources()
    scorer = load_scorer(res)
    rules = load_routing_rules(res) if route else None
    if res.settings.task_runner == "dask":
        report, decided = score_on_dask(res, scorer, rules)
    else:
        report, decided = score_new_items(res, scorer, rules)
    outcome = check_scores(res)
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
