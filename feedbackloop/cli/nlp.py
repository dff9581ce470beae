"""`feedbackloop nlp`: sentiment scoring, training and evaluation on CSV files."""

from __future__ import annotations

import csv
import json
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.cli.errors import fail as _fail
from feedbackloop.cli.errors import reading

app = typer.Typer(help="Sentiment scoring, training and evaluation.", no_args_is_help=True)
_err = Console(stderr=True)
BATCH = 1000

# CSV cells holding whole e-mail threads exceed the csv module's 128 KiB default.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _open_rows(path: Path, columns: list[str]) -> tuple[Iterator[dict[str, str]], object]:
    from nlp.pii import mask

    # Missing, empty, binary or UTF-16: one line naming the file, before any output.
    with reading(path):
        fh = path.open(newline="", encoding="utf-8-sig")
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames or []
        except BaseException:
            fh.close()
            raise
    missing = [c for c in columns if c not in header]
    if missing:
        fh.close()
        # Masked: a file without a header row starts with a record.
        has = mask(", ".join(header))
        raise _fail(f"column(s) {', '.join(missing)} not in {path} (has: {has})")
    return reader, fh


MODEL_HELP = (
    "Model: an adapted model directory (`nlp train`), `encoder` (the packaged MiniLM head) or "
    "`rules` (the rule scorer alone). Default: FEEDBACKLOOP_SENTIMENT_MODEL (encoder)."
)


def _pipeline_args(model: str | None) -> tuple[Path | None, dict[str, object]]:
    """(model_dir, load_pipeline options) for a --model value."""
    from feedbackloop.config import get_settings

    options = get_settings().sentiment_options()
    if model in ("encoder", "rules"):
        options["sentiment_model"] = model
        return None, options
    if model is None:
        return None, options
    path = Path(model)
    if not (path / "meta.json").exists():
        raise _fail(f"no adapted model in {path} (meta.json missing; or use encoder/rules)")
    return path, options


def _load(model_dir: Path | None, options: dict[str, object]) -> object:
    from nlp.encoders.minilm import EncoderUnavailable
    from nlp.pipeline import load_pipeline

    try:
        return load_pipeline(model_dir, **options)  # type: ignore[arg-type]
    except EncoderUnavailable as exc:
        raise _fail(f"{exc}; or score with --model rules") from None


def _train(
    texts: list[str], labels: list[str], output: Path, *, seed: int, base: str | None
) -> Any:
    from feedbackloop.config import get_settings
    from nlp.encoders.minilm import EncoderUnavailable
    from nlp.training import train as train_model

    options = get_settings().sentiment_options()
    base = base or str(options["sentiment_model"])
    if base not in ("encoder", "rules"):
        raise _fail(f"--base must be encoder or rules, not {base!r}")
    try:
        return train_model(
            texts, labels, output, seed=seed, base=base, encoder_cache=options.get("encoder_cache")
        )
    except EncoderUnavailable as exc:
        raise _fail(f"{exc}; or train with --base rules") from None


def _read_labelled(path: Path, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    from nlp.training import normalize_label

    rows, fh = _open_rows(path, [text_col, label_col])
    texts, labels = [], []
    # A bad byte or CSV error further down: one line naming the file.
    with reading(path, check=False):
        try:
            for n, row in enumerate(rows):
                raw = row.get(label_col)
                try:
                    labels.append(normalize_label(raw))
                except ValueError:
                    raise _fail(
                        f"row {n}: unknown label {raw!r} (use negative/neutral/positive, the five "
                        "levels, pos/neg/neu or -1/0/1)"
                    ) from None
                texts.append(row.get(text_col) or "")
        finally:
            fh.close()  # type: ignore[attr-defined]
    if not texts:
        raise _fail(f"no rows in {path}")
    return texts, labels


@app.command()
def score(
    input: Path = typer.Option(..., "--input", help="CSV file to score."),
    text_column: str = typer.Option(..., "--text-column", help="Column holding the text."),
    output: Path = typer.Option(..., "--output", help="CSV to write: row,label,score,frustrated"),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
) -> None:
    """Score every row; streams in batches so large files are never held in memory."""
    rows, fh = _open_rows(input, [text_column])
    try:
        model_dir, options = _pipeline_args(model)
        nlp: Any = _load(model_dir, options)
    except BaseException:
        fh.close()  # type: ignore[attr-defined]
        raise
    n = 0
    # Rows are read as they are scored: a bad byte further down is one line naming the file.
    with reading(input, check=False):
        try:
            with output.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["row", "label", "score", "frustrated"])
                texts = ((row.get(text_column) or "") for row in rows)
                for n, doc in enumerate(nlp.pipe(texts, batch_size=BATCH), start=1):
                    writer.writerow(
                        [
                            n - 1,
                            doc._.sentiment_label,
                            f"{doc._.sentiment:.4f}",
                            "true" if doc._.frustrated else "false",
                        ]
                    )
        finally:
            fh.close()  # type: ignore[attr-defined]
    version = nlp.get_pipe("feedback_sentiment_v1").version
    _err.print(f"scored {n} rows with {version} -> {output}")


@app.command()
def train(
    input: Path = typer.Option(..., "--input", help="CSV with reviewed labels."),
    text_column: str = typer.Option(..., "--text-column"),
    label_column: str = typer.Option(..., "--label-column"),
    output: Path = typer.Option(..., "--output", help="Directory for the model artifact."),
    seed: int = typer.Option(0, "--seed"),
    base: str | None = typer.Option(
        None, "--base", help="encoder (adapt the MiniLM head) or rules. Default: the setting."
    ),
) -> None:
    """Train an adapted model from human-reviewed labels."""
    texts, labels = _read_labelled(input, text_column, label_column)
    info = _train(texts, labels, output, seed=seed, base=base)
    typer.echo(
        json.dumps(
            {
                "version": info.version,
                "path": str(info.path),
                "n_train": info.n_train,
                "metrics": info.metrics,
            },
            indent=2,
        )
    )


@app.command()
def approve(
    model: Path = typer.Argument(..., help="Directory written by `feedbackloop nlp train`."),
    by: str = typer.Option(..., "--by", help="Your user handle, recorded in the audit trail."),
    note: str = typer.Option("", "--note", help="Why, e.g. the review it passed."),
) -> None:
    """Approve an adapted model: the score-feedback flow uses the newest approved one."""
    from feedbackloop.config import get_settings
    from feedbackloop.db import ensure_ready
    from feedbackloop.scoring import approve_model
    from nlp.pii import mask

    if not (model / "meta.json").exists():
        raise _fail(f"no adapted model in {model} (meta.json missing)")
    settings = get_settings()
    installed = approve_model(
        ensure_ready(settings), settings, model, approver=mask(by), note=mask(note)
    )
    typer.echo(f"approved: {installed}")


@app.command("eval")
def eval_(
    input: Path = typer.Option(..., "--input", help="CSV with gold labels."),
    text_column: str = typer.Option(..., "--text-column"),
    label_column: str = typer.Option(..., "--label-column"),
    train_size: int = typer.Option(0, "--train-size", help="Rows used to adapt first."),
    seed: int = typer.Option(0, "--seed"),
    baselines: bool = typer.Option(False, "--baselines", help="Also run VADER/asent/TextBlob."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Accuracy, macro-F1 (3 classes), per-class P/R/F1 and docs/s."""
    from nlp.encoders.minilm import EncoderUnavailable
    from nlp.evaluation import evaluate

    texts, labels = _read_labelled(input, text_column, label_column)
    if train_size < 0 or train_size >= len(texts):
        raise _fail(f"--train-size must be between 0 and {len(texts) - 1}")
    model_dir, options = _pipeline_args(model)
    with tempfile.TemporaryDirectory() as tmp:
        train_info = None
        if train_size:
            order = list(range(len(texts)))
            random.Random(seed).shuffle(order)
            tr, te = order[:train_size], order[train_size:]
            train_info = _train(
                [texts[i] for i in tr],
                [labels[i] for i in tr],
                Path(tmp) / "model",
                seed=seed,
                base=str(options["sentiment_model"]),
            )
            model_dir = train_info.path
            texts, labels = [texts[i] for i in te], [labels[i] for i in te]
        try:
            result = evaluate(
                texts, labels, model_dir=model_dir, baselines=baselines, options=options
            )
        except EncoderUnavailable as exc:
            raise _fail(f"{exc}; or evaluate with --model rules") from None
    result["train_size"] = train_size
    result["seed"] = seed
    if train_info is not None:
        result["adapted_version"] = train_info.version
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"sentiment eval: {result['n']} rows (train_size={train_size})")
    for col in (
        "system",
        "version",
        "macro-F1",
        "accuracy",
        "F1 neg",
        "F1 neu",
        "F1 pos",
        "docs/s",
    ):
        table.add_column(col)
    for name, rep in result["systems"].items():
        pc = rep["per_class"]
        table.add_row(
            name,
            rep["version"],
            f"{rep['macro_f1']:.3f}",
            f"{rep['accuracy']:.3f}",
            f"{pc['negative']['f1']:.3f}",
            f"{pc['neutral']['f1']:.3f}",
            f"{pc['positive']['f1']:.3f}",
            f"{rep['docs_per_s']:.0f}",
        )
    Console().print(table)


@app.command("build-default")
def build_default(
    data_root: Path | None = typer.Option(
        None, "--data-root", help="Folder holding sentiment/ (the shared public sets)."
    ),
    output: Path | None = typer.Option(
        None, "--output", help="Where to write the head (default: the packaged one)."
    ),
) -> None:
    """Rebuild the packaged encoder head from the public sets (deterministic)."""
    from feedbackloop.config import get_settings
    from nlp.build_default import build
    from nlp.encoders.minilm import EncoderUnavailable
    from nlp.sentiment.encoder_head import DEFAULT_DIR

    cache = get_settings().sentiment_options().get("encoder_cache")
    try:
        meta = build(output or DEFAULT_DIR, data_root=data_root, cache_dir=cache)
    except (FileNotFoundError, EncoderUnavailable) as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps({"version": meta["version"], "n_train": meta["n_train"]}))


if __name__ == "__main__":
    app()
