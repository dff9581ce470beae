"""The pipeline's vocab: faster lexeme attribute getters (identical results), pre-filled.

spaCy creates a ``Lexeme`` the first time a string is seen and calls some twenty Python
getters for it (shape, like_num, like_url, ...). On short feedback texts most tokens of
a fresh pipeline are new, and those calls cost more than scoring the text. Each getter
here returns exactly what spaCy's own does (``tests/unit/test_sentiment.py`` compares
them), through a C-level fast path for the common case (plain words, ASCII) and spaCy's
function for the rest. They are module-level functions so a vocab still pickles (for
``nlp.pipe(n_process=...)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import spacy
from spacy import attrs
from spacy.lang import lex_attrs as base
from spacy.lang.en import lex_attrs as en
from spacy.vocab import Vocab

# ASCII letters/digits map to spaCy's shape characters; runs are capped at four below.
_SHAPE_TABLE = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "x" * 26 + "X" * 26 + "d" * 10,
)
_LONG_RUN = re.compile(r"(.)\1{4,}", re.DOTALL)
_RUNS = tuple((c * 5, re.compile(c + "{5,}"), c * 4) for c in "xXd")
_EN_NUMBER_WORDS = frozenset(en._num_words) | frozenset(en._ordinal_words)
_QUOTES = frozenset(
    (
        '"',
        "'",
        "`",
        "«",
        "»",
        "‘",
        "’",
        "‚",
        "‛",
        "“",
        "”",
        "„",
        "‟",
        "‹",
        "›",
        "❮",
        "❯",
        "''",
        "``",
    )
)
_LEFT = frozenset(("(", "[", "{", "<", '"', "'", "«", "‘", "‚", "‛", "“", "„", "‟", "‹", "❮", "``"))
_RIGHT = frozenset((")", "]", "}", ">", '"', "'", "»", "’", "”", "›", "❯", "''"))
_BRACKETS = frozenset(("(", ")", "[", "]", "{", "}", "<", ">"))


def word_shape(text: str) -> str:
    if text.isascii() and len(text) < 100:
        shape = text.translate(_SHAPE_TABLE)
        if len(shape) > 4:
            # spaCy keeps at most four of a shape character in a row
            for five, run, four in _RUNS:
                if five in shape:
                    shape = run.sub(four, shape)
            if not text.isalnum() and _LONG_RUN.search(shape):
                return base.word_shape(text)  # e.g. "!!!!!": rare
        return shape
    return base.word_shape(text)


def like_num(text: str) -> bool:
    if text.isalpha():  # no sign, digit, "/" or ordinal digits: only number words
        return text.lower() in _EN_NUMBER_WORDS
    return en.like_num(text)


def like_url(text: str) -> bool:
    if "." not in text and not text.startswith("http"):
        return False
    return base.like_url(text)


def like_email(text: str) -> bool:
    return "@" in text and base.like_email(text)


def is_ascii(text: str) -> bool:
    return text.isascii()


def is_punct(text: str) -> bool:
    return not text.isalnum() and base.is_punct(text)


def is_currency(text: str) -> bool:
    return not text.isalnum() and base.is_currency(text)


def is_quote(text: str) -> bool:
    return text in _QUOTES


def is_left_punct(text: str) -> bool:
    return text in _LEFT


def is_right_punct(text: str) -> bool:
    return text in _RIGHT


def is_bracket(text: str) -> bool:
    return text in _BRACKETS


# Where spaCy's getter is a one-line call of a str method, an item or a membership test,
# the C-level builtin itself is the getter (same value, no Python frame): spaCy calls
# every getter for every new string, so these dominate the cost of a new lexeme.
FAST_GETTERS: dict[int, Callable[[str], Any]] = {
    attrs.SHAPE: word_shape,
    attrs.LIKE_NUM: like_num,
    attrs.LIKE_URL: like_url,
    attrs.LIKE_EMAIL: like_email,
    attrs.IS_ASCII: str.isascii,
    attrs.IS_PUNCT: is_punct,
    attrs.IS_CURRENCY: is_currency,
    attrs.IS_QUOTE: _QUOTES.__contains__,
    attrs.IS_LEFT_PUNCT: _LEFT.__contains__,
    attrs.IS_RIGHT_PUNCT: _RIGHT.__contains__,
    attrs.IS_BRACKET: _BRACKETS.__contains__,
    attrs.IS_ALPHA: str.isalpha,
    attrs.IS_DIGIT: str.isdigit,
    attrs.IS_LOWER: str.islower,
    attrs.IS_SPACE: str.isspace,
    attrs.IS_TITLE: str.istitle,
    attrs.IS_UPPER: str.isupper,
    attrs.LOWER: str.lower,
    attrs.PREFIX: itemgetter(0),
    attrs.SUFFIX: itemgetter(slice(-3, None)),
}
# The spaCy functions each fast getter stands in for (checked to be these at install).
REPLACES: dict[int, Callable[[str], Any]] = {
    attrs.SHAPE: base.word_shape,
    attrs.LIKE_NUM: en.like_num,
    attrs.LIKE_URL: base.like_url,
    attrs.LIKE_EMAIL: base.like_email,
    attrs.IS_ASCII: base.is_ascii,
    attrs.IS_PUNCT: base.is_punct,
    attrs.IS_CURRENCY: base.is_currency,
    attrs.IS_QUOTE: base.is_quote,
    attrs.IS_LEFT_PUNCT: base.is_left_punct,
    attrs.IS_RIGHT_PUNCT: base.is_right_punct,
    attrs.IS_BRACKET: base.is_bracket,
    attrs.IS_ALPHA: base.is_alpha,
    attrs.IS_DIGIT: base.is_digit,
    attrs.IS_LOWER: base.is_lower,
    attrs.IS_SPACE: base.is_space,
    attrs.IS_TITLE: base.is_title,
    attrs.IS_UPPER: base.is_upper,
    attrs.LOWER: base.lower,
    attrs.PREFIX: base.prefix,
    attrs.SUFFIX: base.suffix,
}


def install_fast_getters(vocab: Vocab) -> None:
    """Swap in the fast getters, only where the vocab still uses spaCy's English ones."""
    getters = vocab.lex_attr_getters
    if not getters:
        return
    vocab.lex_attr_getters = {
        attr: (FAST_GETTERS[attr] if REPLACES.get(attr) is func else func)
        for attr, func in getters.items()
    }


COMMON_TOKENS = Path(__file__).resolve().parent.parent / "lexicons" / "en_common_tokens.txt"


def common_tokens() -> list[str]:
    text = COMMON_TOKENS.read_text(encoding="utf-8") if COMMON_TOKENS.exists() else ""
    return [w for w in text.split("\n") if w and not w.startswith("# ")]


def prepare_vocab(vocab: Vocab) -> None:
    """Fast getters, and the lexemes of the common tokens created up front (see
    :func:`shared_vocab`); a no-op on a vocab already prepared."""
    if vocab.lex_attr_getters.get(attrs.SHAPE) is word_shape:
        return
    install_fast_getters(vocab)
    for word in common_tokens():
        vocab[word]  # creates the lexeme


@lru_cache(maxsize=1)
def shared_vocab() -> Vocab:
    """One English vocab per process for every sentiment pipeline, with the lexemes of
    the ~30k most frequent English tokens created up front.

    A blank pipeline creates each lexeme the first time it sees the string, which on a
    fresh pipeline costs more than scoring the text. Trained spaCy pipelines ship their
    vocab for the same reason; this one is built in about 0.3 s on first use, and every
    later ``load_pipeline()`` in the process starts from it (and from the strings the
    earlier ones added).
    """
    vocab = spacy.blank("en").vocab
    prepare_vocab(vocab)
    return vocab
