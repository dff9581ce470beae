"""A fast regex tokenizer for the sentiment pipeline.

spaCy's rule-based English tokenizer costs more per short text than the whole VADER
scorer, and sentiment only needs words, numbers, punctuation, emoji, emoticons, URLs and
e-mails. Whitespace follows spaCy's convention (one trailing space per token, any other
whitespace becomes its own token), so ``doc.text == text`` always holds.
"""

from __future__ import annotations

import re
from typing import Any

from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.sentiment.scorer import FAST_TOKEN_BODY, TOKEN_BODY, TOKEN_RE, token_regex

TOKENS_KEY = "_feedback_tokens"
_FULL = re.compile(r"(\s+|" + TOKEN_BODY + r")( ?)")
_FAST = re.compile(r"(\s+|" + FAST_TOKEN_BODY + r")( ?)")


class FastTokenizer:
    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        pattern = _FULL if token_regex(text) is TOKEN_RE else _FAST
        pairs = pattern.findall(text)
        if pairs:
            # one C-level transpose; spaces stay " "/"" strings, which Doc reads as bools
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
