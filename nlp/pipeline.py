"""Build the feedback NLP pipeline: ``spacy.blank("en")`` + our components."""

from __future__ import annotations

import importlib
from pathlib import Path

import spacy
from spacy.language import Language

import nlp.sentiment  # noqa: F401  (registers the feedback_sentiment_v1 factory)
from nlp.sentiment.lexattrs import shared_vocab
from nlp.sentiment.tokenizer import FastTokenizer

# Our tokenizer is linear and cheap, so long tickets/e-mail threads need no 1M-char cap.
MAX_LENGTH = 20_000_000


def load_pipeline(model_dir: str | Path | None = None, *, pii: bool = False) -> Language:
    """Blank English pipeline with sentiment scoring.

    ``model_dir``: an adapted model written by ``nlp.training.train``; without it the
    rule scorer (version ``rules-v3``, ``nlp.sentiment.RULES_VERSION``) is used.
    ``pii=True`` adds the PII masker first and keeps spaCy's default tokenizer, whose
    tokens (like_email, like_url) it relies on.
    """
    # per-process vocab, pre-filled with common English tokens (see lexattrs.shared_vocab)
    pipeline = spacy.blank("en", vocab=shared_vocab())
    pipeline.max_length = MAX_LENGTH
    if pii:
        # lazy: the masker is another module and not needed for sentiment-only use
        importlib.import_module("nlp.pii_masker")
        pipeline.add_pipe("feedback_pii_masker_v1", first=True)
    else:
        pipeline.tokenizer = FastTokenizer(pipeline.vocab)
    config: dict[str, object] = {}
    if model_dir is not None:
        path = Path(model_dir)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no adapted sentiment model in {path} (meta.json missing)")
        config["model_path"] = str(path.resolve())
    pipeline.add_pipe("feedback_sentiment_v1", config=config)
    return pipeline
