"""Shared by the sentiment unit tests: the public Doc attributes, a one-call score and a CSV
writer for the CLI tests."""

from __future__ import annotations

import csv
from pathlib import Path

from spacy.language import Language

# the attributes every doc out of the pipeline carries
EXTENSIONS = (
    "sentiment",
    "sentiment_label",
    "frustrated",
    "explanation",
    "language",
    "sentiment_model_version",
)


def score(nlp: Language, text: str) -> float:
    return float(nlp(text)._.sentiment)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """`rows` as a CSV file with a header (the keys of the first row)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
