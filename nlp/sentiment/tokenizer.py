"""A fast tokenizer for the sentiment pipeline.

spaCy's rule-based English tokenizer costs more per short text than the whole VADER
scorer, and sentiment only needs words, numbers, punctuation, emoji, emoticons, URLs and
e-mails. Whitespace follows spaCy's convention (one trailing space per token, any other
whitespace becomes its own token), so ``doc.text == text`` always holds.

Fast path (texts whose only whitespace is single spaces, i.e. nearly all feedback): the
text is split on " " and each piece is looked up in a per-process cache of piece ->
(tokens, orth ids, spaces); only pieces never seen before go through the token regex.
Pieces repeat (Zipf), so most texts are tokenized by a few C-level ``map``/``chain``
calls, and the Doc is built from orth ids (no per-token string hashing). Any other text
takes the exact regex path. Both give the same tokens as ``TOKEN_RE`` on the whole text:
no token contains whitespace, and the regex's look-arounds only look at one character,
which at a piece edge is a space in both cases (tested).
"""

from __future__ import annotations

import re
from itertools import chain
from operator import itemgetter
from typing import Any

from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.sentiment.scorer import FAST_TOKEN_BODY, TOKEN_BODY, TOKEN_RE, token_regex

TOKENS_KEY = "_feedback_tokens"
_FULL = re.compile(r"(\s+|" + TOKEN_BODY + r")( ?)")
_FAST = re.compile(r"(\s+|" + FAST_TOKEN_BODY + r")( ?)")

# distinct pieces remembered per vocab; dropped and rebuilt past this size
PIECE_CACHE_LIMIT = 300_000
_WORDS, _ORTHS, _SPACES = itemgetter(0), itemgetter(1), itemgetter(2)
_chain = chain.from_iterable
# spaces per piece: every token but the piece's last is glued to the next one
_SPACE_RUNS = [tuple([False] * (n - 1) + [True]) if n else () for n in range(64)]
# one cache per shared vocab (see lexattrs.shared_vocab), so every pipeline of the
# process starts warm; other vocabs get a cache of their own tokenizer
_EMPTY: tuple[tuple[Any, ...], ...] = ((), (), ())
_SHARED: dict[int, tuple[Vocab, dict[str, tuple[Any, ...]]]] = {}


def _space_run(n: int) -> tuple[bool, ...]:
    return _SPACE_RUNS[n] if n < 64 else tuple([False] * (n - 1) + [True])


def split_piece(piece: str) -> list[str]:
    """Tokens of a whitespace-free piece (the same as ``TOKEN_RE`` gives in context)."""
    if piece.isalpha():
        return [piece]
    return token_regex(piece).findall(piece)


class FastTokenizer:
    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        from nlp.sentiment.lexattrs import common_tokens, shared_vocab

        if vocab is shared_vocab():
            entry = _SHARED.get(id(vocab))
            if entry is None:
                entry = _SHARED[id(vocab)] = (vocab, {})
                # the vocab's common words are the common pieces too
                self._cache = entry[1]
                self._fill_pieces([w for w in common_tokens() if w.isalpha()])
            self._cache = entry[1]
        else:
            self._cache = {}

    def _fill_pieces(self, pieces: list[str]) -> list[tuple[Any, ...]]:
        """Tokenize pieces not seen before, all with one regex call, and cache them."""
        cache = self._cache
        if len(cache) > PIECE_CACHE_LIMIT:
            cache.clear()
        add = self.vocab.strings.add
        cache[""] = _EMPTY  # after a trailing space
        pieces = [p for p in pieces if p]
        joined = " ".join(pieces)
        # (token, " " after the last token of each piece): the same tokens as one
        # findall per piece, since the pieces hold no whitespace (see module doc)
        pattern = _FULL if token_regex(joined) is TOKEN_RE else _FAST
        out = []
        toks: list[str] = []
        for tok, space in pattern.findall(joined):
            toks.append(tok)
            if space:
                words = tuple(toks)
                out.append((words, tuple([add(t) for t in words]), _space_run(len(words))))
                toks = []
        if toks:
            words = tuple(toks)
            out.append((words, tuple([add(t) for t in words]), _space_run(len(words))))
        for piece, v in zip(pieces, out, strict=True):
            cache[piece] = v
        return out

    def _fill(self, pieces: list[str], vals: list[Any]) -> None:
        missing = [k for k, v in enumerate(vals) if v is None]
        new = [p for p in dict.fromkeys(pieces[k] for k in missing) if p]
        done = dict(zip(new, self._fill_pieces(new), strict=True))
        done[""] = _EMPTY
        for k in missing:
            vals[k] = done[pieces[k]]

    def __call__(self, text: str) -> Doc:
        if (
            text
            and text.isprintable()
            and "  " not in text
            and text[0] != " "
            and not (self.vocab.in_memory_zone)
        ):
            pieces = text.split(" ")
            vals = list(map(self._cache.get, pieces))
            if None in vals:
                self._fill(pieces, vals)
            words = list(_chain(map(_WORDS, vals)))
            if words:
                spaces = list(_chain(map(_SPACES, vals)))
                if text[-1] != " ":
                    spaces[-1] = False
                doc = Doc(self.vocab, words=list(_chain(map(_ORTHS, vals))), spaces=spaces)
            else:
                doc = Doc(self.vocab, words=words, spaces=[])
        else:
            pattern = _FULL if token_regex(text) is TOKEN_RE else _FAST
            pairs = pattern.findall(text)
            if pairs:
                # one C-level transpose; spaces stay " "/"" strings, read by Doc as bools
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
