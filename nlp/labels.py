"""The five sentiment levels the pipeline assigns (`doc._.sentiment_label`), most negative
first. A module of its own so that feedbackloop's vocabulary can import them without loading
spaCy."""

from __future__ import annotations

LABELS = ("very_negative", "negative", "neutral", "positive", "very_positive")
