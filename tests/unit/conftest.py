"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
from spacy.language import Language

from nlp import load_pipeline


@pytest.fixture(scope="module")
def nlp() -> Language:
    """The default pipeline, loaded once per test module."""
    return load_pipeline()
