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
``lexattrs.shared_vocab`` make that cheap.
"""

from __future__ import annotations

import re
from typing import Any

from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.sentiment.scorer import token_regex

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


class FastTokenizer:
    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        split, pairs_re = _variants(token_regex(text))
        if text and text.isprintable() and "  " not in text and text[0] != " ":
            parts = split.split(text)
            # spaces stay " "/"" strings, read by Doc as bools
            words, spaces = parts[1::2], parts[2::2]
        else:
            pairs = pairs_re.findall(text)
            if pairs:
                # one C-level transpose
                words, spaces = zip(*pairs, strict=True)
            else:
                words = spaces = ()
        doc = Doc(self.vocab, words=words, spaces=spaces)
        # handed to the sentiment component (which pops it): it needs neither re-tokenize
        # nor doc.text, which spaCy rebuilds by iterating over every token
        doc.user_data[TOKENS_KEY] = (text, words)
        return doc

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        for text in texts:
            yield self(text)

    # Serialization hooks so nlp.to_disk / pickling for n_process work; nothing to store.
    def __reduce__(self) -> tuple[Any, ...]:
        return (FastTokenizer, (self.vocab,))

    def to_bytes(self, **kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: Any) -> FastTokenizer:
        return self

    def to_disk(self, path: Any, **kwargs: Any) -> None:
        return None

    def from_disk(self, path: Any, **kwargs: Any) -> FastTokenizer:
        return self
