"""`feedbackloop review`: rate the weekly sample of automated actions in the terminal; `review
sample` queues a week's sample, `review retrain` trains on the ratings."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel

from feedbackloop.cli.errors import fail as _fail
from feedbackloop.config import ConfigError, get_settings

app = typer.Typer(
    help="Human review of automated actions: rate them, sample a week, retrain on the ratings.",
    invoke_without_command=True,
)
console = Console()
_LABELS = ("very_negative", "negative", "neutral", "positive", "very_positive")
_SHOWN = 1500  # characters of the text shown; the rest is cut with a note


def _reviewer(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise _fail("say who is reviewing with --by NAME") from None


@app.callback()
def review(
    ctx: typer.Context,
    batch: Annotated[str | None, typer.Option(help="Only this batch (e.g. 2026-W48).")] = None,
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: your login).")] = None,
) -> None:
    """Rate queued actions one by one: c = correct, w = wrong (then the right sentiment
    label), s = skip, q = quit. Ratings are stored at once and audited."""
    if ctx.invoked_subcommand is not None:
        return
    from feedbackloop.db import ensure_ready
    from feedbackloop.review import ReviewError, record_review, review_queue

    engine = ensure_ready(get_settings())
    queue = review_queue(engine, batch=batch)
    if not queue:
        console.print("nothing to review: `feedbackloop review sample` queues this week's sample")
        return
    reviewer = _reviewer(by)
    rated = 0
    for n, item in enumerate(queue, 1):
        body = item.text if len(item.text) <= _SHOWN else item.text[:_SHOWN] + " [... cut]"
        console.print(
            Panel(
                body,
                title=f"{n}/{len(queue)}  review {item.id}  ({item.batch})",
                subtitle=(
                    f"{item.action_type} by rule {item.rule} ({item.status}); "
                    f"model said {item.model_label} ({item.model_version})"
                ),
                highlight=False,
            ),
            markup=False,
        )
        answer = typer.prompt("[c]orrect, [w]rong, [s]kip, [q]uit", default="s").strip().lower()
        if answer.startswith("q"):
            break
        if not answer.startswith(("c", "w")):
            continue
        verdict = "correct" if answer.startswith("c") else "wrong"
        label = None
        if verdict == "wrong":
            menu = ", ".join(f"{i} {name}" for i, name in enumerate(_LABELS, 1))
            pick = typer.prompt(f"right sentiment ({menu}; Enter: none)", default="").strip()
            if pick:
                if not pick.isdigit() or not 1 <= int(pick) <= len(_LABELS):
                    console.print("not a label number: skipped")
                    continue
                label = _LABELS[int(pick) - 1]
        comment = typer.prompt("comment (Enter: none)", default="").strip() or None
        try:
            record_review(
                engine,
                item.id,
                reviewer=reviewer,
                verdict=verdict,
                sentiment_label=label,
                comment=comment,
            )
        except ReviewError as exc:
            console.print(f"not recorded: {exc}")
            continue
        rated += 1
    left = len(review_queue(engine, batch=batch))
    console.print(f"{rated} rated by {reviewer}; {left} left in the queue")


@app.command("sample")
def sample(
    size: Annotated[int, typer.Option(min=1, help="Actions to sample.")] = 20,
    batch: Annotated[str | None, typer.Option(help="Batch name (default: this ISO week).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 0,
) -> None:
    """Queue a seeded sample of the last week's automated actions, stratified by action type
    and rule (the sample-reviews flow does this every Monday); the same batch twice is a no-op."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.review import sample_for_review

    ids = sample_for_review(ensure_ready(get_settings()), size=size, batch=batch, seed=seed)
    console.print(f"{len(ids)} actions in the review queue for this batch")


@app.command("retrain")
def retrain(
    min_examples: Annotated[int, typer.Option(min=1, help="Reviewed labels needed.")] = 40,
) -> None:
    """Train on the reviewed labels; promote only when better than the model in use on the
    held-back reviews (the retrain-sentiment flow does this every Sunday)."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.review import retrain_from_reviews

    settings = get_settings()
    try:
        report = retrain_from_reviews(ensure_ready(settings), settings, min_examples=min_examples)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    console.print(report.reason)
