"""Lemmas for topic clustering: the sentiment pipeline's tokenizer plus spaCy's English lemma
lookup table (``spacy-lookups-data``), with no tagger or parser.

The lemma cache below is per process, so words that repeat (most of them, in support text)
cost one dict look-up each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import spacy

from nlp.sentiment.tokenizer import words_and_spaces
from nlp.topics.words import PLACEHOLDER as _PLACEHOLDER

_WORD = re.compile(r"[a-z][a-z0-9'-]*\Z")
_CACHE_LIMIT = 500_000
# lookup-table entries that read oddly in labels ("datum", "medium") or are wrong ("doe")
_KEEP = {"data": "data", "media": "media", "does": "do", "doing": "do"}
# Function words: kept as features (measured: "what is my" vs "how do i" tells intents apart,
# and TF-IDF weighs them down), but a text needs at least one other known word to be encoded
# at all, or a text of rare words would match everything through its "the"s and "is"s.
_FUNCTION_WORDS = """
    a an the and or but if of to in on at by for with from as into about over after before than
    then so i me my mine myself we us our ours you your yours he him his she her hers it
    its they them their theirs this that these those be is am are was were been being do does
    did doing have has had having will would shall should may might must can could there here
    just also too very please thanks thank hi hello hey 're 've 'll 'd 'm"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
LABEL_STOP_WORDS = frozenset(spacy.blank("en").Defaults.stop_words) | {
    "pls",
    "please",
    "thank",
    "thanks",
    "hi",
    "hello",
    "hey",
    "want",
    "need",
    "help",
    "like",
    "know",
    "tell",
    "let",
    "way",
    "ok",
    "okay",
}


@lru_cache(maxsize=1)
def _lemma_table() -> Any:
    from spacy.lookups import load_lookups

    # a spaCy Table: keys are string hashes, so look up with .get(str), not as a dict
    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


_lemmas: dict[str, str] = {}


def _lemma(token: str) -> str:
    """Lower-cased lemma of a word token, "" for punctuation, numbers and one-letter words."""
    lemma = _lemmas.get(token)
    if lemma is None:
        if len(_lemmas) > _CACHE_LIMIT:
            _lemmas.clear()
        low = token.lower()
        if len(low) < 2 or not _WORD.match(low):
            lemma = ""
        else:
            lemma = _KEEP.get(low) or _lemma_table().get(low, low)
            if lemma.endswith("'s"):
                lemma = lemma[:-2]

        _lemmas[token] = lemma
    return lemma


def release() -> None:
    """Drop the lemma table (about 14 MB) and the lemma cache at the end of a run: a long-lived
    process would hold them between runs for nothing; reloading costs about 0.05 s of CPU."""
    _lemma_table.cache_clear()
    _lemmas.clear()


def lemmas(text: str) -> list[str]:
    """Content-bearing lemmas of a text, in order."""
    if not text:
        return []
    if "<" in text:
        text = _PLACEHOLDER.sub(" ", text)
    # the tokenizer's words without its Doc, which lemmas do not need
    words = words_and_spaces(text)[0]
    return [lem for lem in map(_lemma, words) if lem]


def lemmatize(texts: Iterable[str]) -> list[list[str]]:
    return [lemmas(t or "") for t in texts]
