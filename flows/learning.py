"""The learning loop: topic clusters (hourly), the weekly human review sample, and the retrain
that reviewed labels feed."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from feedbackloop.forked import Gate, can_fork, run_in_child
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from feedbackloop.review import (
    SAMPLE_SIZE,
    RetrainReport,
    retrain_from_reviews,
    sample_for_review,
)
from feedbackloop.topics import TopicReport, assign_topics
from flows._resources import prepare_resources

# The learning flows run hourly or weekly: wait longer for a restarting database.
prepare = prepare_resources.with_options(retry_delay_seconds=[10, 30, 60])


# Retried: a lost connection mid-run rolls the write back and the next try starts over; the
# advisory lock makes a second concurrent run wait instead of clustering the same items.
@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE, timeout_seconds=3600)
def assign(res: Resources, encoder: str | None) -> TopicReport:
    return assign_topics(res.engine, res.settings, encoder=encoder)


# The feedback loop's topics: the same run beside scoring (topics read the collected items,
# not their scores), in a forked child on the second core; it writes once `gate` opens, after
# the routing decisions, which so see the assignments of the run before as they did when
# topics came after them. With FEEDBACKLOOP_WORKERS=1 it waits in a thread of this process.
@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE, timeout_seconds=3600)
def assign_beside(res: Resources, gate: Gate, encoder: str | None = None) -> TopicReport:
    if res.settings.workers < 2 or not can_fork():
        return assign_topics(res.engine, res.settings, encoder=encoder, before_write=gate.wait)
    return run_in_child(
        assign_topics,
        res.engine,
        res.settings,
        encoder=encoder,
        before_write=gate.wait,
        engines=[res.engine],
        name="topics",
    )


def log_topics(report: TopicReport) -> None:
    get_run_logger().info(
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


@flow(
    name="cluster-topics",
    description="Give every consented item a topic key and a stable cluster id.",
    timeout_seconds=3600,
    **RUN_HOOKS,
)
def cluster_topics(encoder: str | None = None) -> TopicReport:
    """`encoder`: light or minilm; default FEEDBACKLOOP_TOPIC_ENCODER."""
    report = assign(prepare(), encoder)
    log_topics(report)
    return report


@task(retries=2, retry_delay_seconds=[30, 120], cache_policy=NO_CACHE)
def queue_weekly_sample(res: Resources, size: int, seed: int) -> list[int]:
    return sample_for_review(res.engine, size=size, seed=seed, actor="flow sample-reviews")


@flow(
    name="sample-reviews",
    description="Queue a seeded, stratified sample of automated actions for human review.",
    timeout_seconds=600,
    **RUN_HOOKS,
)
def sample_reviews(size: int = SAMPLE_SIZE, seed: int = 0) -> list[int]:
    """Queue this ISO week's sample of automated actions for human review (`feedbackloop
    review`, the dashboard); a rerun in the same week returns the same sample."""
    queued = queue_weekly_sample(prepare(), size, seed)
    get_run_logger().info("%s actions queued for review this week", len(queued))
    return queued


@task(cache_policy=NO_CACHE, timeout_seconds=3600)
def train_and_compare(res: Resources, min_examples: int) -> RetrainReport:
    return retrain_from_reviews(res.engine, res.settings, min_examples=min_examples)


@flow(
    name="retrain-sentiment",
    description="Train on reviewed labels; promote only when better on held-back reviews.",
    timeout_seconds=3 * 3600,
    **RUN_HOOKS,
)
def retrain_sentiment(min_examples: int = 40) -> RetrainReport:
    """Train on reviewed labels; the new model scores from the next run only if it beats the
    current one on held-back reviews."""
    report = train_and_compare(prepare(), min_examples)
    get_run_logger().info("retrain: %s", report.reason)
    return report
