"""NLP for feedbackloop: PII masking (`nlp.pii`) and sentiment/frustration scoring on spaCy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlp.pipeline import load_pipeline

__all__ = ["load_pipeline"]


def __getattr__(name: str) -> Any:
    # Lazy: importing spaCy imports torch when it is installed (nlp.topics' light encoder must
    # run without a deep-learning framework), and `nlp.pii`, which governance imports
    # everywhere, must not load spaCy with it.
    if name == "load_pipeline":
        from nlp.pipeline import load_pipeline

        return load_pipeline
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")
