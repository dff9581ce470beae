"""What `feedbackloop demo` prints after the demo-loop flow: one table or line per stage."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from feedbackloop.config import ENV_PREFIX, Settings


@dataclass
class RoutingSummary:
    """Actions by type and rule, with their statuses (pending, sent, shadow, skipped, ...)."""

    by_type: dict[str, Counter[str]] = field(default_factory=dict)
    by_rule: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    total: int = 0
    example_action_id: int | None = None


def example_action(engine: Engine) -> int | None:
    """An action worth explaining in a demo: a sent auto-reply, else a sent action, else a
    skipped one (it says why nobody was contacted), else any."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT id FROM ops.actions
                ORDER BY (action_type = 'auto_reply' AND status = 'sent') DESC,
                         (status = 'sent') DESC, (status = 'skipped') DESC, id
                LIMIT 1
                """
            )
        ).scalar_one_or_none()


def milestone_action(engine: Engine) -> int | None:
    """A milestone-triggered action to explain: a sent one first, else a skipped one."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id FROM ops.actions WHERE item_type = 'milestone' "
                "ORDER BY (status = 'sent') DESC, (status = 'skipped') DESC, id LIMIT 1"
            )
        ).scalar_one_or_none()


def milestone_counts(engine: Engine) -> dict[str, int]:
    """Usage milestones reached, by name."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, count(*) AS n FROM ops.milestones GROUP BY 1 ORDER BY 1")
        ).all()
    return {r.name: int(r.n) for r in rows}


def demo_summary(engine: Engine) -> RoutingSummary:
    summary = RoutingSummary()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    by_rule: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT rule, action_type, status, count(*) AS n FROM ops.actions "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            )
        ).all()
    for row in rows:
        by_type[row.action_type][row.status] += row.n
        by_rule[(row.rule, row.action_type)][row.status] += row.n
        summary.total += row.n
    summary.by_type = dict(by_type)
    summary.by_rule = dict(by_rule)
    summary.example_action_id = example_action(engine)
    return summary


def summary_table(summary: RoutingSummary) -> Table:
    """Actions by rule and type with their statuses (`demo_summary`)."""
    statuses = ("sent", "pending", "failed", "shadow", "skipped")
    table = Table(title=f"Route: {summary.total:,} actions decided")
    table.add_column("rule", overflow="fold")
    table.add_column("action")
    for status in statuses:
        table.add_column(status, justify="right")
    for (rule, kind), counts in sorted(summary.by_rule.items()):
        table.add_row(rule, kind, *(f"{counts.get(s, 0):,}" for s in statuses))
    for kind, counts in sorted(summary.by_type.items()):
        table.add_row(
            "[bold]all rules[/]", f"[bold]{kind}[/]", *(f"{counts.get(s, 0):,}" for s in statuses)
        )
    return table


def _collect_counts(result: Any) -> tuple[int, int, int, int | None]:
    """(written, unchanged, quarantined, API calls) of a connector's or a drop's result."""
    if hasattr(result, "rows_written"):
        return result.rows_written, result.rows_unchanged, result.quarantined, result.api_calls
    return result.written, result.unchanged, result.quarantined, None


def print_summary(result: dict[str, Any], console: Console, settings: Settings) -> None:
    """The demo-loop flow's `result`, stage by stage."""
    report = result["report"]
    table = Table(title="Collect: through the connectors (fake APIs on 127.0.0.1, a drop file)")
    for column in ("source", "stream", "received", "stored", "unchanged", "quarantined", "calls"):
        table.add_column(column, justify="left" if column in ("source", "stream") else "right")
    masked_counts = Counter(report.masked_entities)
    for source, streams in result["collected"].items():
        for stream, r in streams.items():
            written, unchanged, quarantined, calls = _collect_counts(r)
            masked_counts.update(r.masked_entities)
            table.add_row(
                source,
                stream,
                f"{written + unchanged + quarantined:,}",
                f"{written:,}",
                f"{unchanged:,}",
                f"{quarantined:,}",
                "-" if calls is None else f"{calls:,}",
            )
    for stream, generated in report.generated.items():
        table.add_row(
            "crm",
            stream,
            f"{generated:,}",
            f"{report.written[stream]:,}",
            "0",
            f"{report.quarantined[stream]:,}",
            "-",
        )
    console.print(table)

    masked = Table(title="Governance: masked before storage, validated, merged")
    masked.add_column("entity type")
    masked.add_column("masked", justify="right")
    for kind, count in sorted(masked_counts.items()):
        masked.add_row(kind, f"{count:,}")
    masked.add_row("invalid emails flagged", f"{report.invalid_emails:,}")
    masked.add_row("duplicate contacts merged", f"{result['merged_contacts']:,}")
    masked.add_row("consent decisions recorded", f"{report.consent_changes:,}")
    console.print(masked)
    check = result["marts_check"]
    console.print(
        f"GX gate: {result['counts'].get('ops.validation_runs', 0):,} batches validated, "
        f"{result['counts'].get('ops.quarantine', 0):,} records quarantined; "
        f"checks on dbt output: {'passed' if check.success else 'FAILED'}. "
        f"Data Docs: {result['data_docs']}"
    )

    scores = result["scores"]
    totals = scores.totals
    labels = Table(
        title=f"Sentiment ({scores.model_version})",
        caption=f"{totals.get('items', 0):,} items; {scores.scored:,} new or changed in this run",
    )
    labels.add_column("label")
    labels.add_column("items", justify="right")
    for label in ("very_negative", "negative", "neutral", "positive", "very_positive"):
        labels.add_row(label, f"{totals.get(label, 0):,}")
    labels.add_row("frustrated", f"{totals.get('frustrated', 0):,}")
    labels.add_row("not English (flagged)", f"{totals.get('not_english', 0):,}")
    console.print(labels)

    console.print(summary_table(result["routing"]))
    dispatched = result["routed"].dispatched
    if dispatched is not None:
        console.print(
            f"dispatched to the fakes: {dispatched.sent:,} sent, {dispatched.retrying:,} "
            f"retrying, {dispatched.failed:,} failed"
        )
    if result["explained"]:
        console.print(f"[bold]feedbackloop explain {result['routing'].example_action_id}[/]")
        console.print(result["explained"], highlight=False, markup=False, soft_wrap=True)
    product = result.get("product_events")
    if product is not None:
        intake = product.intake
        console.print(
            f"Product events (POST /webhooks/segment, signed): {intake.received:,} calls in "
            f"{product.requests:,} requests, {intake.stored:,} stored, {intake.duplicate:,} "
            f"duplicates, {intake.quarantined:,} quarantined; usage milestones reached: "
            f"{result.get('milestones') or 'none'}"
            + ("" if intake.reconciles() else "; [red]some calls were not counted[/]")
        )
    if result.get("milestone_explained"):
        console.print("[bold]A milestone-triggered action, explained[/]")
        console.print(result["milestone_explained"], highlight=False, markup=False, soft_wrap=True)

    surveys = result.get("surveys")
    if surveys is not None:
        console.print(
            f"Survey links (rule survey-after-solved-ticket, through the real form): "
            f"{surveys.links_sent:,} sent, {surveys.opened:,} opened, {surveys.answered:,} "
            f"answered ({surveys.answered_again:,} answered again, replacing the first); "
            f"{surveys.unlinked:,} answers without a valid link; see mart_survey_funnel"
            + (f"; [red]{surveys.refused} refused[/]" if surveys.refused else "")
        )

    topics = result["topics"]
    console.print(
        f"Topics ({topics.encoder}): {topics.clusters:,} clusters, {topics.candidates:,} with at "
        f"least {settings.topic_min_cluster_size} items; outliers "
        f"{100 * topics.outlier_share:.1f}% of {topics.items:,} consented items"
    )

    health = result["health"]
    failing = [c.name for c in health.checks if not c.ok]
    console.print(
        f"Health checks: {len(health.checks)} recorded in ops.health_pings, "
        + (f"[red]failing: {', '.join(failing)}[/]" if failing else "all ok")
        + " (source freshness: `feedbackloop dbt source freshness`)"
    )

    dbt = result["dbt"]
    models = sum(1 for n in dbt.passed if n.startswith("model."))
    tests = sum(1 for n in dbt.passed if n.startswith(("test.", "unit_test.")))
    console.print(
        f"dbt build: {models} models and {tests} data tests passed (artifacts in {dbt.target_path})"
    )

    counts = Table(title="Rows in the database now")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, rows in result["counts"].items():
        if rows:
            counts.add_row(name, f"{rows:,}")
    console.print(counts)
    console.print(
        "Next: `feedbackloop db status` for every table, `feedbackloop db url` to connect "
        "with psql or a BI tool."
    )
    console.print(
        f"Dashboard: feedbackloop web, then http://127.0.0.1:8000/ (user "
        f"{settings.dashboard_user}, password from {ENV_PREFIX}DASHBOARD_PASSWORD); "
        "or `feedbackloop demo --serve`",
        highlight=False,
    )
