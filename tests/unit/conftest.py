"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
from spacy.language import Language

from nlp import load_pipeline


@pytest.fixture(scope="module")
def nlp() -> Language:
    """The rules pipeline (what the sentiment unit tests are written for), once per module; the
    encoder default has its own tests (test_sentiment_encoder.py)."""
    return load_pipeline(sentiment_model="rules")
