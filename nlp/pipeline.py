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


SENTIMENT_MODELS = ("encoder", "rules")


def load_pipeline(
    model_dir: str | Path | None = None,
    *,
    pii: bool = False,
    sentiment_model: str = "encoder",
    encoder_cache: str | Path | None = None,
) -> Language:
    """Blank English pipeline with sentiment scoring.

    ``model_dir``: a model written by ``nlp.training.train`` (an encoder head or an adapted
    rule-feature model); it wins over ``sentiment_model``. Without it, ``sentiment_model``
    picks the packaged encoder head (``encoder``, version ``encoder-v1``: MiniLM on ONNX
    Runtime, see nlp.sentiment.encoder_head) or the rule scorer alone (``rules``, version
    ``rules-v3``, ``nlp.sentiment.RULES_VERSION``; no encoder is loaded). ``encoder_cache``:
    where the ONNX export of the encoder is kept (default ``$FEEDBACKLOOP_STATE_DIR/models/
    onnx``); it is exported there on the first load, once.
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
    if sentiment_model not in SENTIMENT_MODELS:
        raise ValueError(f"unknown sentiment model {sentiment_model!r} (use encoder or rules)")
    sentiment = pipeline.add_pipe("feedback_sentiment_v1")
    if encoder_cache is not None:
        # an attribute, not config: a saved pipeline's config.cfg names no path of this machine
        sentiment.encoder_cache = str(encoder_cache)
    if model_dir is None and sentiment_model == "encoder":
        from nlp.sentiment.encoder_head import DEFAULT_DIR

        sentiment.load_model(DEFAULT_DIR)
    elif model_dir is not None:
        path = Path(model_dir)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no adapted sentiment model in {path} (meta.json missing)")
        # data, not config: to_disk copies it into the saved pipeline, so its config.cfg
        # names no path of this machine
        sentiment.load_model(path)
    if sentiment.uses_encoder:
        # export now (once per state dir), not on a worker's first batch: Dask workers that
        # start together then all find the file
        sentiment.encoder.prepare()
    return pipeline
