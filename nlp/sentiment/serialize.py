"""Cheap Doc serialization, for ``nlp.pipe(texts, n_process=N)``.

With ``n_process > 1`` spaCy's workers send every Doc back as ``Doc.to_bytes()`` and the
parent rebuilds it with ``Doc.from_bytes()``, one doc at a time. For this pipeline (about
60 µs of scoring per short text) that round trip decides whether more processes help.
Two costs dominated (cProfile of the parent, 2026-12-07):

1. srsly's ``msgpack_loads``/``msgpack_dumps`` ask catalogue for the registered msgpack
   hooks on every call, and catalogue answers by scanning every installed entry point
   (Python 3.11's ``SelectableGroups.select`` walks all groups) and importing the hooks
   again: ~250 µs per call, three calls per doc, ~0.8 ms per doc in the parent alone.
   Entry points cannot change while a process runs (catalogue reads them once, at
   import), so :func:`cache_msgpack_hooks` looks them up once per process.
2. ``Doc.to_bytes`` writes fourteen token attributes and collects eight strings per token
   in Python, though this pipeline sets none of them. :class:`FeedbackDoc` (the class our
   tokenizer creates) writes only what a doc carries when nothing but tokenization set
   its tokens, in the format ``Doc.from_bytes`` reads, and uses spaCy's full format
   whenever anything else is set (tags, parse, entities, spans, cats, hooks, ...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import catalogue
import numpy as np
from spacy.attrs import (
    DEP,
    ENT_ID,
    ENT_IOB,
    ENT_KB_ID,
    ENT_TYPE,
    HEAD,
    LEMMA,
    LENGTH,
    LOWER,
    MORPH,
    NORM,
    POS,
    SENT_START,
    SPACY,
    TAG,
)
from spacy.tokens import Doc
from spacy.tokens.doc import pickle_doc
from srsly.msgpack import Packer, msgpack_decoders, msgpack_encoders


def _cached_lookup(registry: catalogue.Registry) -> Callable[[], dict[str, Any]]:
    lookup = catalogue.Registry.get_all.__get__(registry)
    cache: dict[int, dict[str, Any]] = {}

    def get_all() -> dict[str, Any]:
        # hooks registered in code later (a new REGISTRY entry) are still picked up
        key = len(catalogue.REGISTRY)
        found = cache.get(key)
        if found is None:
            cache.clear()
            found = cache[key] = lookup()
        return dict(found)

    get_all.cached = True  # type: ignore[attr-defined]
    return get_all


def cache_msgpack_hooks() -> None:
    """Make srsly look up its msgpack encoders/decoders once per process (idempotent)."""
    for registry in (msgpack_encoders, msgpack_decoders):
        if not getattr(registry.get_all, "cached", False):
            registry.get_all = _cached_lookup(registry)  # type: ignore[method-assign]


_LOCAL = threading.local()


def _dumps(obj: Any) -> bytes:
    """``srsly.msgpack_dumps`` (same bytes) without building a Packer per call: one per
    thread, rebuilt when catalogue's registry changes (a new msgpack hook)."""
    key = len(catalogue.REGISTRY)
    packer = getattr(_LOCAL, "packer", None)
    if packer is None or _LOCAL.key != key:
        packer = _LOCAL.packer = Packer(use_bin_type=True)
        _LOCAL.key = key
    return packer.pack(obj)


# What a light payload carries: LENGTH and SPACY rebuild the tokens, NORM is written back
# exactly as the full format does it.
_HEAD = (LENGTH, SPACY, NORM)
# Read in one C call: the payload columns, LOWER (to tell whether a norm's string is sure
# to exist in the receiving vocab), then the attributes only the full format carries
# (0 = unset for each; SENT_START is checked by has_annotation, which skips the first token).
_SCAN = (*_HEAD, LOWER, TAG, POS, MORPH, LEMMA, DEP, HEAD, ENT_IOB, ENT_TYPE, ENT_KB_ID, ENT_ID)
_N_HEAD = len(_HEAD)
_FIRST_OTHER = len(_HEAD) + 1


def light_payload(doc: Doc) -> dict[str, Any] | None:
    """The ``Doc.to_dict`` subset that ``Doc.from_dict`` turns back into an equal doc, or
    None when the doc carries anything beyond tokens, norms and user_data."""
    if (
        doc.user_hooks
        or doc.user_token_hooks
        or doc.user_span_hooks
        or doc.spans
        or doc.cats
        or doc.sentiment
        or doc.has_unknown_spaces
        or doc.tensor.size
        or not len(doc)
    ):
        return None
    arr = doc.to_array(_SCAN)
    if arr[:, _FIRST_OTHER:].any() or (len(doc) > 1 and doc.has_annotation(SENT_START)):
        return None
    text = getattr(doc, "text_as_tokenized", None)
    # Doc.text joins the tokens in Python; the tokenizer's input is the same string as long
    # as the tokens still add up to it (spaCy's retokenizer keeps the text anyway)
    if text is None or len(text) != int(arr[:, :2].sum()):
        text = doc.text
    msg: dict[str, Any] = {
        "text": text,
        "array_head": _HEAD,
        "array_body": np.ascontiguousarray(arr[:, :_N_HEAD]),
    }
    # A norm equal to the lowercase form has its string in any vocab that holds the
    # token's lexeme (the receiver creates it); any other norm travels as a string.
    other = arr[:, 2] != arr[:, 3]
    if other.any():
        msg["strings"] = list({doc[int(i)].norm_ for i in np.flatnonzero(other)})
    if doc.user_data:
        keys, values = zip(*doc.user_data.items(), strict=True)
        msg["user_data_keys"] = _dumps(keys)
        msg["user_data_values"] = _dumps(values)
    return msg


class FeedbackDoc(Doc):
    """A spaCy ``Doc`` whose ``to_bytes`` is cheap for plainly tokenized docs.

    Everything else is ``Doc``'s; ``Doc.from_bytes`` reads both formats, and a doc that
    carries more than tokens, norms and user_data is written in spaCy's full format.
    """

    __slots__ = ("text_as_tokenized",)

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        msg = None if exclude else light_payload(self)
        if msg is None:
            return Doc.to_bytes(self, exclude=exclude)
        return _dumps(msg)

    def __reduce__(self) -> tuple[Any, ...]:
        # spaCy registers its pickler for Doc only; unpickles as a plain Doc
        return pickle_doc(self)
