"""A fast tokenizer for the sentiment pipeline.

spaCy's rule-based English tokenizer costs more per short text than the whole VADER
scorer, and sentiment only needs words, numbers, punctuation, emoji, emoticons, URLs and
e-mails. Whitespace follows spaCy's convention (one trailing space per token, any other
whitespace becomes its own token), so ``doc.text == text`` always holds.

One ``split`` (texts with single spaces only) or ``findall`` (any other whitespace) of
the token regex gives the Doc's words and spaces in C. (A per-process cache of whitespace-separated
pieces was tried: it saves the regex on repeated pieces but costs more than it saves on
new text, where most pieces are new, and new feedback is what this pipeline scores.)

New words get their lexemes from spaCy's vocab; the getters installed by
``lexattrs.prepare_vocab`` make that cheap.

Registered as ``@tokenizers = "feedback_tokenizer_v1"`` (entry point ``spacy_tokenizers``),
so a saved pipeline's config.cfg names it and plain ``spacy.load(path)`` rebuilds it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.sentiment.lexattrs import prepare_vocab
from nlp.sentiment.scorer import token_regex
from nlp.sentiment.serialize import FeedbackDoc

TOKENIZER_NAME = "feedback_tokenizer_v1"
# What to_disk/to_bytes write: the tokenizer has no learned state, only its identity, so
# a pipeline saved with another tokenizer format fails to load instead of tokenizing
# differently.
_FORMAT = {"tokenizer": TOKENIZER_NAME, "format": 1}

TOKENS_KEY = "_feedback_tokens"
# Per token pattern (see scorer.token_regex): for texts whose only whitespace is single
# spaces (nearly all feedback), ``split`` with the token as the group alternates
# [gap, token, gap, ..., gap], every gap "" or " ", so two C-level slices give words and
# spaces with no tuple per token; any other text gets (token or whitespace run, trailing
# space) pairs from ``findall``.
_VARIANTS: dict[re.Pattern[str], tuple[re.Pattern[str], re.Pattern[str]]] = {}


def _variants(token_pattern: re.Pattern[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    v = _VARIANTS.get(token_pattern)
    if v is None:
        body = token_pattern.pattern
        v = _VARIANTS[token_pattern] = (
            re.compile("(" + body + ")"),
            re.compile(r"(\s+|" + body + r")( ?)"),
        )
    return v


def words_and_spaces(text: str) -> tuple[Sequence[str], Sequence[str]]:
    """The Doc's words and their trailing spaces (" " or ""), as `FastTokenizer` makes them;
    callers that need only the words (the rules scorer, topic lemmas) skip building a Doc."""
    split, pairs_re = _variants(token_regex(text))
    if text and text.isprintable() and "  " not in text and text[0] != " ":
        parts = split.split(text)
        # spaces stay " "/"" strings, read by Doc as bools
        return parts[1::2], parts[2::2]
    pairs = pairs_re.findall(text)
    if pairs:
        # one C-level transpose
        words, spaces = zip(*pairs, strict=True)
        return words, spaces
    return (), ()


class FastTokenizer:
    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words, spaces = words_and_spaces(text)
        doc = FeedbackDoc(self.vocab, words=words, spaces=spaces)
        doc.text_as_tokenized = text
        # handed to the sentiment component (which pops it): it needs neither re-tokenize
        # nor doc.text, which spaCy rebuilds by iterating over every token
        doc.user_data[TOKENS_KEY] = (text, words)
        return doc

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        for text in texts:
            yield self(text)

    # Serialization, called by nlp.to_disk/from_disk/to_bytes/from_bytes and pickling.
    def __reduce__(self) -> tuple[Any, ...]:
        return (FastTokenizer, (self.vocab,))

    def to_bytes(self, **kwargs: Any) -> bytes:
        return json.dumps(_FORMAT).encode("utf-8")

    def from_bytes(self, data: bytes, **kwargs: Any) -> FastTokenizer:
        _check_format(json.loads(data.decode("utf-8")))
        return self

    def to_disk(self, path: str | Path, **kwargs: Any) -> None:
        Path(path).write_text(json.dumps(_FORMAT), encoding="utf-8")

    def from_disk(self, path: str | Path, **kwargs: Any) -> FastTokenizer:
        _check_format(json.loads(Path(path).read_text(encoding="utf-8")))
        return self


def _check_format(data: Any) -> None:
    if not isinstance(data, dict) or data.get("tokenizer") != TOKENIZER_NAME:
        raise ValueError(f"not a {TOKENIZER_NAME} tokenizer file")
    if data.get("format") != _FORMAT["format"]:
        raise ValueError(f"unsupported {TOKENIZER_NAME} format {data.get('format')!r}")


@spacy.registry.tokenizers(TOKENIZER_NAME)
def create_feedback_tokenizer() -> Callable[[Language], FastTokenizer]:
    """``[nlp.tokenizer] @tokenizers = "feedback_tokenizer_v1"``."""

    def make(nlp: Language) -> FastTokenizer:
        # same lexeme attributes as spaCy's, computed faster (lexattrs); a no-op on the
        # shared vocab of load_pipeline()
        prepare_vocab(nlp.vocab)
        return FastTokenizer(nlp.vocab)

    return make


@spacy.registry.callbacks("feedback_max_length_v1")
def create_max_length(max_length: int) -> Callable[[Language], Language]:
    """``[nlp.after_creation]``: spaCy's 1M-character cap (``nlp.max_length``) guards its
    own tokenizer and parser's memory; ours is linear and cheap, so long tickets and
    e-mail threads need no such cap. ``nlp.max_length`` is not a config setting."""

    def set_max_length(nlp: Language) -> Language:
        nlp.max_length = max_length
        return nlp

    return set_max_length
