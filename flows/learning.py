"""cluster_topics: every consented feedback item gets a topic key and a stable cluster id."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from feedbackloop.config import get_settings
from feedbackloop.db import ensure_ready
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.topics import TopicReport, assign_topics


@task(retries=3, retry_delay_seconds=[10, 30, 60], cache_policy=NO_CACHE)
def prepare_database() -> Engine:
    return ensure_ready(get_settings())


# Retried: a lost connection mid-run rolls the write back and the next try starts over; the
# advisory lock makes a second concurrent run wait instead of clustering the same items.
@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE, timeout_seconds=3600)
def assign(engine: Engine, encoder: str | None) -> TopicReport:
    return assign_topics(engine, get_settings(), encoder=encoder)


@flow(name="cluster-topics", **RUN_HOOKS)
def cluster_topics(encoder: str | None = None) -> TopicReport:
    """`encoder`: light or minilm; default FEEDBACKLOOP_TOPIC_ENCODER."""
    logger = get_run_logger()
    engine = prepare_database()
    report = assign(engine, encoder)
    logger.info(
        "topics (%s): %s considered, %s joined existing clusters, %s new clusters (%s items), "
        "%s outliers; %s withdrawn; overall outlier share %.1f%%",
        report.encoder,
        report.considered,
        report.assigned_existing,
        len(report.new_clusters),
        report.in_new_clusters,
        report.outliers,
        report.withdrawn,
        100 * report.outlier_share,
    )
    return report
