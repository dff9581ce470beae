"""`feedbackloop faq`: FAQ candidates from the marts, and a person's accept / reject / publish."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.cli.errors import fail
from feedbackloop.config import get_settings

app = typer.Typer(
    help="FAQ candidates: list them, accept or reject one, record its published article.",
    no_args_is_help=True,
)
console = Console()

ClusterId = Annotated[int, typer.Argument(help="The candidate's cluster id (`faq list`).")]
By = Annotated[str, typer.Option("--by", help="Who decides (recorded and audited).")]
Note = Annotated[str | None, typer.Option(help="Why, in a few words (masked).")]


def _decide(cluster_id: int, decision: str, by: str, note: str | None, article: str | None) -> None:
    from feedbackloop.db import ensure_ready
    from feedbackloop.faq import FaqError, decide

    try:
        decide(
            ensure_ready(get_settings()), cluster_id, decision, by=by, note=note, article=article
        )
    except FaqError as exc:
        raise fail(str(exc)) from None
    console.print(f"cluster {cluster_id}: {decision} by {by}")


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=1, help="Candidates shown.")] = 20,
    examples: Annotated[bool, typer.Option(help="Show up to three examples each.")] = True,
) -> None:
    """Clusters with enough similar items in the window and no article yet, biggest first."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.faq import FaqError, list_candidates

    try:
        candidates = list_candidates(ensure_ready(get_settings()), limit)
    except FaqError as exc:
        raise fail(str(exc)) from None
    if not candidates:
        console.print("no FAQ candidates in the last marts build")
        return
    table = Table(title="FAQ candidates (last marts build)")
    for column in ("cluster", "label (key phrases)", "items", "trend", "negative", "decision"):
        table.add_column(column, justify="right" if column in ("cluster", "items") else "left")
    if examples:
        table.add_column("examples (masked)", overflow="fold")
    for c in candidates:
        row = [
            str(c.cluster_id),
            (c.label or "") + (f"\n({c.key_phrases})" if c.key_phrases else ""),
            f"{c.items_in_window:,}",
            c.trend,
            "-" if c.share_negative is None else f"{c.share_negative:.0%}",
            c.decision or "open",
        ]
        if examples:
            row.append("\n".join(f"- {e[:160]}" for e in c.examples))
        table.add_row(*row)
    console.print(table, markup=False)


@app.command("accept")
def accept(cluster_id: ClusterId, by: By, note: Note = None) -> None:
    """Someone will write the answer: the cluster leaves the candidate list."""
    _decide(cluster_id, "accepted", by, note, None)


@app.command("reject")
def reject(cluster_id: ClusterId, by: By, note: Note = None) -> None:
    """Not worth an article: the cluster returns only once it has grown by half again."""
    _decide(cluster_id, "rejected", by, note, None)


@app.command("publish")
def publish(
    cluster_id: ClusterId,
    article: Annotated[
        str, typer.Option(help="The published article as SOURCE:ID (zendesk_guide:360001).")
    ],
    by: By,
    note: Note = None,
) -> None:
    """The accepted answer is live: its topic's volume before and after is measured
    (mart_learning_loop_impact)."""
    _decide(cluster_id, "published", by, note, article)
