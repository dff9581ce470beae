"""The demo loop: generated data through every stage that is built so far.

Stages today: prepare the database -> generate -> load the CRM and help-center reference data
(masked, GX gate) -> collect through the real connectors from fake Zendesk and App Store servers
on 127.0.0.1 and a notes drop file (the pull-tickets, pull-reviews and import-drop subflows,
each masking and gating every page) -> merge duplicate contacts -> score sentiment (the
score-feedback subflow; routing rules decide in the same transactions) -> route (the
route-actions subflow sends to fake Zendesk, Slack and HubSpot servers) -> topic clusters
(cluster-topics) -> dbt build -> GX checks on the dbt output -> health checks (the health-ping
subflow, without alerts; it includes `dbt source freshness`) -> count. Product events go
through the real signed `POST /webhooks/segment` before routing, and the
process-webhook-events subflow evaluates the usage milestones they reach (`demo.product_events`).
After routing, customers open and answer the survey links of the replies they got through the
real feedback form (`demo.surveys`), and a few answer the form without a link.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from demo.generator import DemoDataset, generate
from demo.load import LoadReport, load_dataset
from demo.product_events import ProductEvents, send_product_events
from demo.report import RoutingSummary, demo_summary, milestone_action, milestone_counts
from demo.sources import REFERENCE_STREAMS, serve_demo_sources, serve_routing_fakes
from demo.surveys import SurveyDemoReport, answer_surveys
from expectations.checkpoints import Outcome
from feedbackloop.config import settings_overridden
from feedbackloop.db.stats import row_counts
from feedbackloop.governance.contacts import merge_duplicate_contacts
from feedbackloop.governance.gate import GateFailed, record_run
from feedbackloop.marts import DbtResult
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from feedbackloop.routing import RouteReport, explain_text
from feedbackloop.sources.drops import DropResult
from feedbackloop.sources.zendesk import SyncResult
from flows._resources import prepare_resources
from flows.ingest import import_drop_file, process_webhooks, pull_reviews, pull_tickets
from flows.learning import cluster_topics
from flows.monitor import health_ping
from flows.route import route_actions
from flows.score import score_feedback


@task(cache_policy=NO_CACHE)
def generate_demo_data(seed: int, tickets: int, now: datetime | None) -> DemoDataset:
    return generate(seed=seed, tickets=tickets, now=now)


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE, timeout_seconds=1800)
def load_reference_data(res: Resources, dataset: DemoDataset) -> LoadReport:
    """CRM accounts, contacts and consent, help-center articles: no connector for them yet."""
    settings = res.settings
    return load_dataset(
        res.engine,
        dataset,
        hash_key=settings.hash_key(),
        validator=res.validator,
        max_failed_share=settings.gate_max_failed_share,
        email_deliverability=settings.email_check_deliverability,
        email_dns_timeout=settings.email_dns_timeout,
        streams=REFERENCE_STREAMS,
    )


def collect_from_fakes(
    res: Resources, dataset: DemoDataset
) -> dict[str, dict[str, SyncResult | DropResult]]:
    """The real collect subflows, pointed at fakes that serve `dataset` over HTTP."""
    fakes = serve_demo_sources(dataset, state_dir=res.settings.state_path)
    with fakes as sources, settings_overridden(res.settings.updated(sources.settings)):
        return {
            "zendesk": pull_tickets(),
            "app_store": {"customer_reviews": pull_reviews()},
            "drops": {"notes": import_drop_file(str(sources.drop_path))},
        }


def route_to_fakes(res: Resources, dataset: DemoDataset) -> RouteReport:
    """The real route-actions subflow, sending to fakes of Zendesk, Slack and HubSpot."""
    fakes = serve_routing_fakes(dataset)
    with fakes as targets, settings_overridden(res.settings.updated(targets.settings)):
        return route_actions()


@task(cache_policy=NO_CACHE)
def summarize_routing(engine: Engine) -> tuple[RoutingSummary, str | None]:
    """Actions by type and rule, and why the most telling one was decided."""
    summary = demo_summary(engine)
    example = summary.example_action_id
    return summary, None if example is None else explain_text(engine, str(example))


@task(retries=1, retry_delay_seconds=[5], cache_policy=NO_CACHE, timeout_seconds=600)
def send_demo_product_events(res: Resources, dataset: DemoDataset) -> ProductEvents:
    """Segment calls through the real, signed webhook endpoint (a receiver for this run)."""
    return send_product_events(res.settings, res.engine, dataset)


@task(cache_policy=NO_CACHE)
def explain_milestone(engine: Engine) -> tuple[dict[str, int], str | None]:
    """Milestones reached by name, and why a milestone-triggered action was decided (the
    explanation page says the same)."""
    example = milestone_action(engine)
    explained = None if example is None else explain_text(engine, str(example))
    return milestone_counts(engine), explained


@task(cache_policy=NO_CACHE, timeout_seconds=1800)
def answer_survey_links(res: Resources, seed: int) -> SurveyDemoReport:
    """Customers open and answer survey links through the real form (`demo.surveys`)."""
    return answer_surveys(res.settings, res.engine, seed)


# Where the demo's survey links point when FEEDBACKLOOP_PUBLIC_BASE_URL is unset: `feedbackloop
# web` on its default port, so the links in the demo's replies open after `make demo`.
DEMO_PUBLIC_BASE_URL = "http://127.0.0.1:8000"


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE)
def merge_contacts(engine: Engine) -> int:
    with engine.begin() as conn:
        return len(merge_duplicate_contacts(conn, actor="flow demo-loop"))


@task(cache_policy=NO_CACHE, timeout_seconds=1800)
def build_models(res: Resources, quiet: bool) -> DbtResult:
    return res.dbt.build(quiet=quiet)


@task(cache_policy=NO_CACHE)
def check_models(res: Resources) -> Outcome:
    outcome = res.validator.check_marts()
    docs = res.validator.data_docs_index
    with res.engine.begin() as conn:
        record_run(conn, outcome, batch="dbt build", data_docs_path=str(docs) if docs else None)
    return outcome


@task(cache_policy=NO_CACHE)
def count_rows(engine: Engine) -> dict[str, int]:
    return row_counts(engine)


@flow(
    name="demo-loop",
    flow_run_name="demo-seed{seed}-{tickets}-tickets",
    description="Generate demo data and run it through every stage of the loop.",
    timeout_seconds=2 * 3600,
    **RUN_HOOKS,
)
def demo_loop(
    seed: int = 42, tickets: int = 5000, now: datetime | None = None, quiet: bool = False
) -> dict[str, Any]:
    logger = get_run_logger()
    res = prepare_resources()
    if not res.settings.public_base_url:
        # The case-study rule's replies carry survey links: they need a public base URL.
        settings = res.settings.updated({"public_base_url": DEMO_PUBLIC_BASE_URL})
        res = dataclasses.replace(res, settings=settings)
    engine = res.engine
    dataset = generate_demo_data(seed, tickets, now)
    report = load_reference_data(res, dataset)
    if not report.reconciles():
        raise RuntimeError(f"load does not reconcile: {report}")
    if report.gate_failures:
        # Stop before anything downstream acts on a batch that failed governance.
        raise GateFailed(f"governance gate failed: {report.gate_failures}")
    collected = collect_from_fakes(res, dataset)  # the subflows stop on a failed gate themselves
    merged = merge_contacts(engine)
    product = send_demo_product_events(res, dataset)
    with settings_overridden(res.settings):
        scores = score_feedback()
        # Drains stored deliveries and evaluates usage milestones; the rules decide for them.
        process_webhooks(score=False)
    routed = route_to_fakes(res, dataset)
    routing, explained = summarize_routing(engine)
    milestones, milestone_explained = explain_milestone(engine)
    surveys = answer_survey_links(res, seed)
    topics = cluster_topics()
    dbt = build_models(res, quiet)
    marts_check = check_models(res)
    # One ping, so ops.health_pings is not empty: `dbt source freshness` passes after the demo.
    health = health_ping(alert=False)
    counts = count_rows(engine)
    logger.info(
        "reference data: %s rows loaded, %s quarantined",
        sum(report.written.values()),
        sum(report.quarantined.values()),
    )
    return {
        "report": report,
        "collected": collected,
        "merged_contacts": merged,
        "scores": scores,
        "routed": routed,
        "routing": routing,
        "explained": explained,
        "surveys": surveys,
        "product_events": product,
        "milestones": milestones,
        "milestone_explained": milestone_explained,
        "topics": topics,
        "dbt": dbt,
        "marts_check": marts_check,
        "health": health,
        "data_docs": res.validator.data_docs_index,
        "counts": counts,
        "generated": dataset.counts(),
    }
