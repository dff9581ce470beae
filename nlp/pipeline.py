"""Build the feedback NLP pipeline: ``spacy.blank("en")`` + our components."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

import nlp.sentiment  # noqa: F401  (registers the feedback_sentiment_v1 factory)
from nlp.sentiment.lexattrs import shared_vocab
from nlp.sentiment.tokenizer import TOKENIZER_NAME

# Our tokenizer is linear and cheap, so long tickets/e-mail threads need no 1M-char cap.
MAX_LENGTH = 20_000_000


def pipeline_config(*, pii: bool = False) -> dict[str, Any]:
    """The ``[nlp]`` settings of our pipelines (written to config.cfg by ``to_disk``)."""
    nlp_cfg: dict[str, Any] = {
        "after_creation": {"@callbacks": "feedback_max_length_v1", "max_length": MAX_LENGTH}
    }
    if not pii:
        nlp_cfg["tokenizer"] = {"@tokenizers": TOKENIZER_NAME}
    return {"nlp": nlp_cfg}


def load_pipeline(model_dir: str | Path | None = None, *, pii: bool = False) -> Language:
    """Blank English pipeline with sentiment scoring.

    ``model_dir``: an adapted model written by ``nlp.training.train``; without it the
    rule scorer (version ``rules-v3``, ``nlp.sentiment.RULES_VERSION``) is used.
    ``pii=True`` adds the PII masker first and keeps spaCy's default tokenizer, whose
    tokens (like_email, like_url) it relies on.

    ``nlp.to_disk(path)`` writes a directory that plain ``spacy.load(path)`` loads (the
    config names our registered tokenizer and factories; the sentiment component saves
    its lexicons and adapted model), with the same results.
    """
    # per-process vocab, pre-filled with common English tokens (see lexattrs.shared_vocab)
    pipeline = spacy.blank("en", vocab=shared_vocab(), config=pipeline_config(pii=pii))
    if pii:
        # lazy: the masker is another module and not needed for sentiment-only use
        importlib.import_module("nlp.pii_masker")
        pipeline.add_pipe("feedback_pii_masker_v1", first=True)
    sentiment = pipeline.add_pipe("feedback_sentiment_v1")
    if model_dir is not None:
        path = Path(model_dir)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no adapted sentiment model in {path} (meta.json missing)")
        # data, not config: to_disk copies it into the saved pipeline, so its config.cfg
        # names no path of this machine
        sentiment.load_model(path)
    return pipeline
