"""`feedbackloop routing`: check a rules file, report offer fairness, run the dispatcher; and
`explain_command`, the top-level `feedbackloop explain ITEM_OR_ACTION_ID`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.cli.common import counts_table
from feedbackloop.cli.errors import fail as _fail
from feedbackloop.config import ConfigError, get_settings

app = typer.Typer(
    help="Routing: rules -> actions (Slack, Zendesk, HubSpot) through the outbox.",
    no_args_is_help=True,
)
console = Console()


@app.command("check")
def check(
    path: Annotated[
        Path | None,
        typer.Argument(help="Rules file (default: FEEDBACKLOOP_ROUTING_RULES_PATH)."),
    ] = None,
    targets: Annotated[
        bool, typer.Option(help="Also check that every live rule's target is configured.")
    ] = False,
) -> None:
    """Validate a rules file: errors name the rule and the field; exit code 2 on any error."""
    from feedbackloop.routing import load_rules, require_targets

    settings = get_settings()
    path = path or settings.routing_rules_path
    try:
        rules = load_rules(path)  # a missing or non-UTF-8 file is a RulesError too
        if targets:
            require_targets(rules, settings)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"{path}: {len(rules.rules)} rules (version {rules.rules_version})")
    for column in ("rule", "match", "mode", "conditions", "actions"):
        table.add_column(column)
    for rule in rules.rules:
        conditions = ", ".join(k for k, v in rule.when.model_dump().items() if v is not None)
        table.add_row(
            rule.name,
            rule.match,
            "shadow" if rule.shadow else "live",
            conditions or "(every item)",
            ", ".join(a.key for a in rule.actions),
        )
    console.print(table)
    console.print(
        f"{len(rules.templates)} reply templates (each with the disclosure), "
        f"{len(rules.offers)} offers; items older than {rules.max_item_age_days:g} days are "
        "never routed."
    )


@app.command("fairness")
def fairness() -> None:
    """Offers by offer, customer segment and variant (sent or pending, shadow, capped)."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.routing import fairness_report, rules_from_settings

    settings = get_settings()
    try:
        rules = rules_from_settings(settings)
    except ConfigError:
        rules = None  # the report reads the outbox; the rules only say how many variants exist
    report = fairness_report(ensure_ready(settings), rules)
    if not report.rows:
        console.print("no offers decided yet")
        return
    table = Table(title="Offers by segment")
    for column in ("offer", "kind", "segment", "variant", "offered", "shadow", "capped"):
        table.add_column(
            column, justify="right" if column in ("offered", "shadow", "capped") else "left"
        )
    for row in report.rows:
        table.add_row(
            row.offer,
            row.kind,
            row.segment,
            row.variant,
            f"{row.offered:,}",
            f"{row.shadow:,}",
            f"{row.capped:,}",
        )
    console.print(table)
    for flag in report.flags:
        console.print(f"[yellow]unbalanced:[/] {flag}")
    if not report.flags:
        console.print("every segment got more than one variant where it had enough offers")


@app.command("dispatch")
def dispatch_command(
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most this many.")] = None,
) -> None:
    """Send the due actions of the outbox once (the route-actions flow does this on a schedule)."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.routing import dispatch

    settings = get_settings()
    report = dispatch(ensure_ready(settings), settings, limit=limit)
    console.print(
        counts_table(
            {
                "sent": report.sent,
                "already applied": report.already_applied,
                "retrying": report.retrying,
                "failed": report.failed,
                "owner alerts": report.alerts,
            }
        )
    )
    if report.not_configured:
        console.print("left pending (target not configured): " + ", ".join(report.not_configured))


def explain(target: str) -> None:
    """Why an action was decided, in plain words: TARGET is an action id (42), a reference
    (fl-...), or an item (ticket:zendesk:12345, zendesk:12345)."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.routing import ExplainError, explain_text

    try:
        text = explain_text(ensure_ready(get_settings()), target)
    except ExplainError as exc:
        raise _fail(str(exc)) from None
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def explain_command(
    target: Annotated[
        str,
        typer.Argument(
            help="An action id (42), a reply reference (fl-...), or an item "
            "(ticket:zendesk:12345, zendesk:12345)."
        ),
    ],
) -> None:
    """Why the loop did what it did to an item or an action, in plain words."""
    explain(target)
