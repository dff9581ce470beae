"""`feedbackloop topics`: topic clustering and its evaluation on CSV files."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.cli.errors import fail as _fail
from feedbackloop.cli.errors import reading
from nlp.topics.batch import DEFAULT_MIN_CLUSTER_SIZE, BatchClustering

app = typer.Typer(help="Topic clustering and its evaluation.", no_args_is_help=True)
_err = Console(stderr=True)

# CSV cells holding whole e-mail threads exceed the csv module's 128 KiB default.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

ENCODER_HELP = "light (default: WordLlama token embeddings) or minilm (needs .[embeddings])."


def _read_columns(path: Path, columns: list[str]) -> list[list[str]]:
    """The given columns of every row (clustering needs all texts at once)."""
    from nlp.pii import mask

    # Missing, empty, binary, UTF-16 or a bad byte further down: one line naming the file.
    with reading(path), path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            # Masked: a file without a header row starts with a record.
            has = mask(", ".join(header))
            raise _fail(f"column(s) {', '.join(missing)} not in {path} (has: {has})")
        out: list[list[str]] = [[] for _ in columns]
        for row in reader:
            for values, col in zip(out, columns, strict=True):
                values.append(row.get(col) or "")
    if not out[0]:
        raise _fail(f"no rows in {path}")
    return out


def _check(encoder: str, min_cluster_size: int) -> None:
    from nlp.topics.encoders import ENCODERS

    if encoder not in ENCODERS:
        raise _fail(f"unknown encoder {encoder!r} (use {' or '.join(ENCODERS)})")
    if min_cluster_size < 1:
        raise _fail("--min-cluster-size must be at least 1")


def _cluster(texts: list[str], encoder: str, min_cluster_size: int) -> BatchClustering:
    from nlp.topics.batch import cluster_texts
    from nlp.topics.encoders import EncoderUnavailable

    try:
        return cluster_texts(texts, encoder=encoder, min_cluster_size=min_cluster_size)
    except EncoderUnavailable as exc:
        raise _fail(str(exc)) from None


@app.command()
def cluster(
    input: Path = typer.Option(..., "--input", help="CSV file with one text per row."),
    text_column: str = typer.Option(..., "--text-column", help="Column holding the text."),
    output: Path = typer.Option(..., "--output", help="CSV to write: row,cluster_id,is_candidate"),
    min_cluster_size: int = typer.Option(
        DEFAULT_MIN_CLUSTER_SIZE, "--min-cluster-size", help="Members a candidate cluster needs."
    ),
    encoder: str = typer.Option("light", "--encoder", help=ENCODER_HELP),
) -> None:
    """Cluster every row: `row` (0-based), `cluster_id` (-1 = outlier), `is_candidate`."""
    _check(encoder, min_cluster_size)
    (texts,) = _read_columns(input, [text_column])
    result = _cluster(texts, encoder, min_cluster_size)
    chosen = result.candidates
    with output.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "cluster_id", "is_candidate"])
        for n, cid in enumerate(result.labels.tolist()):
            writer.writerow([n, cid, "true" if cid in chosen else "false"])
    clusters = len(set(result.labels.tolist()) - {-1})
    _err.print(
        f"clustered {len(texts)} rows with {result.encoder}: {clusters} clusters, "
        f"{len(chosen)} candidates (>= {min_cluster_size}), "
        f"{result.outlier_share:.1%} outliers, {result.texts_per_s:.0f} texts/s -> {output}"
    )


@app.command("eval")
def eval_(
    input: Path = typer.Option(..., "--input", help="CSV with gold labels."),
    text_column: str = typer.Option(..., "--text-column"),
    label_column: str = typer.Option(..., "--label-column"),
    min_cluster_size: int = typer.Option(
        DEFAULT_MIN_CLUSTER_SIZE, "--min-cluster-size", help="Members a candidate cluster needs."
    ),
    encoder: str = typer.Option("light", "--encoder", help=ENCODER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """NMI, ARI, candidate purity, label recall, outlier share and texts/s against gold labels.

    Outliers (-1) count as one more cluster in NMI/ARI; `nmi_clustered`/`ari_clustered` leave
    them out."""
    from nlp.topics.metrics import evaluate

    _check(encoder, min_cluster_size)
    texts, labels = _read_columns(input, [text_column, label_column])
    result = _cluster(texts, encoder, min_cluster_size)
    scores = evaluate(labels, result.labels.tolist(), min_cluster_size)
    report = {
        "encoder": result.encoder,
        "min_cluster_size": min_cluster_size,
        **scores.as_dict(),
        "seconds": round(result.seconds, 3),
        "texts_per_s": round(result.texts_per_s, 1),
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"topic clustering eval: {scores.n} rows, {scores.labels} labels")
    for col in ("encoder", "NMI", "ARI", "purity", "recall", "outliers", "clusters", "texts/s"):
        table.add_column(col)
    table.add_row(
        result.encoder,
        f"{scores.nmi:.3f}",
        f"{scores.ari:.3f}",
        f"{scores.candidate_purity:.3f}",
        f"{scores.label_recall:.3f}",
        f"{scores.outlier_share:.1%}",
        f"{scores.clusters} ({scores.candidates} cand.)",
        f"{result.texts_per_s:.0f}",
    )
    Console().print(table)


if __name__ == "__main__":
    app()
