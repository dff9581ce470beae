"""NLP for feedbackloop: PII masking and sentiment/frustration scoring on spaCy."""

from __future__ import annotations

from typing import Any

__all__ = ["load_pipeline"]


def __getattr__(name: str) -> Any:
    # Lazy: importing spaCy imports torch when it is installed, and nlp.topics' light encoder
    # must run without a deep-learning framework.
    if name == "load_pipeline":
        from nlp.pipeline import load_pipeline

        return load_pipeline
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")
