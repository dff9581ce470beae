"""Shared by the sentiment unit tests: the public Doc attributes and a one-call score."""

from __future__ import annotations

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
