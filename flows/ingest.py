"""Collect: pull each source into `raw`, one small task per stream.

Every stream commits its rows and its cursor together page by page, so a retried or rerun task
resumes where the last committed page ended and stores every record exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from expectations.checkpoints import build_data_docs
from feedbackloop.forked import can_fork
from feedbackloop.governance.gate import GateFailed, table_gate
from feedbackloop.milestones import EvaluateReport, evaluate_from_settings
from feedbackloop.monitoring.runs import RUN_HOOKS
from feedbackloop.resources import Resources
from feedbackloop.sources import zendesk
from feedbackloop.sources.app_store import AppStoreClient, sync_reviews
from feedbackloop.sources.drops import DropResult, import_drop
from feedbackloop.sources.webhooks import process_webhook_events
from feedbackloop.sources.zendesk import SyncHooks, SyncResult, ZendeskClient
from flows._resources import prepare_resources
from flows.score import score_feedback


def _run_name(source: str) -> Callable[[], str]:
    """Run names carry the source and the end of the window pulled (the start is the stored
    cursor of each stream), e.g. `zendesk-until-2026-11-23T10:05Z`."""
    return lambda: f"{source}-until-{datetime.now(UTC):%Y-%m-%dT%H:%MZ}"


# I/O tasks: staggered retries for transient source or database failures.
IO = {"retries": 3, "retry_delay_seconds": [10, 30, 60], "cache_policy": NO_CACHE}


@task(cache_policy=NO_CACHE)
def zendesk_client(res: Resources) -> ZendeskClient:
    return ZendeskClient.from_settings(res.settings, engine=res.engine)


@task(cache_policy=NO_CACHE)
def governance_gate(res: Resources) -> SyncHooks:
    """The GX gate every page passes before it is stored."""
    return SyncHooks(gate=table_gate(res.validator))


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=[5])
def publish_data_docs(res: Resources) -> str | None:
    """The Data Docs site with this run's gate results: built once per run, not per page."""
    docs = build_data_docs(res.settings.state_path)
    return None if docs is None else str(docs)


def _stop_if_gate_failed(res: Resources, results: dict[str, SyncResult]) -> None:
    share = res.settings.gate_max_failed_share
    for stream, r in results.items():
        seen = r.rows_written + r.rows_unchanged + r.quarantined
        if seen and r.quarantined / seen > share:
            # Stop before scoring and routing act on a source that is sending bad data.
            raise GateFailed(f"{stream}: {r.quarantined} of {seen} records quarantined")


@task(**IO, timeout_seconds=1800)
def pull_users(res: Resources, client: ZendeskClient, gate: SyncHooks) -> SyncResult:
    settings = res.settings
    return zendesk.sync_users(
        res.engine,
        client,
        hooks=gate,
        hash_key=settings.hash_key(),
        email_deliverability=settings.email_check_deliverability,
        email_dns_timeout=settings.email_dns_timeout,
    )


@task(**IO, timeout_seconds=1800)
def pull_ticket_stream(
    res: Resources, client: ZendeskClient, gate: SyncHooks, stream: str, forked: bool = False
) -> SyncResult:
    """`forked`: the sync runs in a forked child and this task's thread waits for it; a
    timeout or cancellation that ends the wait ends the child too (`Forked.join`)."""
    if forked:
        worker = zendesk.fork_stream(
            stream, res.engine, client, hash_key=res.settings.hash_key(), hooks=gate
        )
        return worker.join()
    sync = {
        zendesk.STREAM_TICKETS: zendesk.sync_tickets,
        zendesk.STREAM_TICKET_EVENTS: zendesk.sync_ticket_events,
        zendesk.STREAM_RATINGS: zendesk.sync_satisfaction_ratings,
    }[stream]
    return sync(res.engine, client, hash_key=res.settings.hash_key(), hooks=gate)


@flow(
    name="pull-tickets",
    flow_run_name=_run_name("zendesk"),
    description="Pull Zendesk users, tickets, ticket events and CSAT ratings into raw.",
    timeout_seconds=2 * 3600,
    **RUN_HOOKS,
)
def pull_tickets(prepare_marts: bool = False) -> dict[str, SyncResult]:
    """Zendesk: users, tickets, ticket events (comments, status changes), CSAT ratings.

    `prepare_marts`: parse the dbt project while the forked events sync finishes, so the
    marts build after this pull (the feedback-loop flow's) skips dbt's parse."""
    logger = get_run_logger()
    res = prepare_resources()
    client = zendesk_client(res)
    gate = governance_gate(res)
    results = {zendesk.STREAM_USERS: pull_users(res, client, gate)}
    # Order matters: users first so requesters and comment authors resolve to CRM ids.
    streams = [zendesk.STREAM_TICKETS, zendesk.STREAM_TICKET_EVENTS, zendesk.STREAM_RATINGS]
    events: PrefectFuture[SyncResult] | None = None
    if res.settings.workers > 1 and can_fork():
        # Ticket events, two thirds of the CPU, on the second core (issue #20): a task-runner
        # thread forks the sync (with the user directory filled) and waits for it, while this
        # thread pulls tickets and then ratings.
        streams.remove(zendesk.STREAM_TICKET_EVENTS)
        events = pull_ticket_stream.submit(
            res, client, gate, zendesk.STREAM_TICKET_EVENTS, forked=True
        )
    try:
        for stream in streams:
            results[stream] = pull_ticket_stream(res, client, gate, stream)
        if prepare_marts:
            parse_models(res)  # this process would only wait for the events child here
    except BaseException:
        if events is not None:
            events.wait()  # its pages commit on their own; the flow ends after it, not before
        raise
    if events is not None:
        results[zendesk.STREAM_TICKET_EVENTS] = events.result()
    results = {stream: results[stream] for stream in zendesk.STREAMS}
    for stream, result in results.items():
        logger.info(
            "%s: %s pages, %s written, %s quarantined",
            stream,
            result.pages,
            result.rows_written,
            result.quarantined,
        )
    publish_data_docs(res)
    _stop_if_gate_failed(res, results)
    return results


@task(cache_policy=NO_CACHE, timeout_seconds=600)
def parse_models(res: Resources) -> bool:
    """`dbt parse` into the state dir's target: the next `dbt build` reads it instead of
    parsing the project. A failure is only logged: the build then fails with dbt's message."""
    parsed = res.dbt.parse()
    if not parsed.success:
        get_run_logger().warning("dbt parse failed; the marts build will parse again")
    return parsed.success


@task(**IO, timeout_seconds=1800)
def pull_app_store_reviews(res: Resources, gate: SyncHooks) -> SyncResult:
    client = AppStoreClient.from_settings(res.settings, engine=res.engine)
    return sync_reviews(res.engine, client, hash_key=res.settings.hash_key(), hooks=gate)


@flow(
    name="pull-reviews",
    flow_run_name=_run_name("app-store"),
    description="Pull App Store Connect customer reviews into raw.",
    timeout_seconds=3600,
    **RUN_HOOKS,
)
def pull_reviews() -> SyncResult:
    """App Store Connect customer reviews, newest first, back to the last high-water mark."""
    res = prepare_resources()
    result = pull_app_store_reviews(res, governance_gate(res))
    publish_data_docs(res)
    _stop_if_gate_failed(res, {"customer_reviews": result})
    return result


@task(**IO, timeout_seconds=3600)
def import_file(res: Resources, path: str) -> DropResult:
    known = res.settings.known_sources
    return import_drop(
        res.engine,
        path,
        hash_key=res.settings.hash_key(),
        actor="flow import-drop",
        known_sources=known,
    )


@flow(
    name="import-drop",
    flow_run_name="import-drop-{path}",
    description="Import a JSONL or CSV drop file of notes or survey answers.",
    timeout_seconds=3600,
    **RUN_HOOKS,
)
def import_drop_file(path: str) -> DropResult:
    """A JSONL or CSV drop (sales call notes, CS notes, survey answers); re-imports are no-ops."""
    result = import_file(prepare_resources(), path)
    if not result.reconciles():
        raise RuntimeError(f"drop import does not reconcile: {result}")
    return result


@task(**IO, timeout_seconds=600)
def drain_webhook_events(res: Resources) -> int:
    return process_webhook_events(res.engine)


@task(**IO, timeout_seconds=600)
def evaluate_milestones(res: Resources) -> EvaluateReport:
    """Usage milestones reached by the stored product events, decided by the routing rules."""
    return evaluate_from_settings(res.engine, res.settings, strict_rules=False)


@flow(
    name="process-webhook-events",
    flow_run_name=_run_name("webhooks"),
    description="Turn stored webhook deliveries into raw rows, evaluate usage milestones, score.",
    timeout_seconds=1800,
    **RUN_HOOKS,
)
def process_webhooks(score: bool = True) -> int:
    """Turn stored webhook deliveries into raw rows (each event once, SKIP LOCKED), then
    carry what arrived through the rest of the loop (scoring) in the same run. Product events
    (`/webhooks/segment`) are stored as they arrive; the run evaluates the usage milestones
    they reach (each once, ever; the routing rules decide in the same transaction)."""
    res = prepare_resources()
    processed = 0
    # Drain in rounds so a burst larger than one round is handled in the same run.
    while (batch := drain_webhook_events(res)) > 0:
        processed += batch
    reached = evaluate_milestones(res)
    if reached.total:
        get_run_logger().info(
            "usage milestones reached: %s (%s actions decided)",
            dict(reached.reached),
            reached.actions,
        )
    if processed and score:
        score_feedback()
    return processed
