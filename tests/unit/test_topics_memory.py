"""The light encoder's tokenizer keeps no cache of encoded texts (issue 20's memory goal): the
tokenizer has no pre-tokenizer, so its BPE cache is keyed by whole texts and grew with every new
one. The vectors are the same without it."""

from __future__ import annotations

import ctypes
import random

import numpy as np
import pytest

from nlp.topics.encoders import WordEncoder


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["refund", "order", "login", "password", "delivery", "late", "crash", "app", "the"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(n)]


def test_the_tokenizer_cache_is_off_and_the_vectors_are_the_same_as_with_it() -> None:
    texts = _texts(400, seed=1)
    texts += texts[:100]  # texts seen before: the case the cache would answer
    plain = WordEncoder()
    _, tok = plain._load()
    # the private hook this relies on: a tokenizers upgrade that drops it fails here
    assert callable(getattr(tok.model, "_resize_cache", None))
    cached = WordEncoder()
    cached._load()[1].model._resize_cache(10_000)
    first = cached.encode(texts)
    assert np.array_equal(plain.encode(texts), first)
    assert np.array_equal(cached.encode(texts), first)  # answered from the cache this time


def _heap_in_use() -> int:
    """glibc's bytes in use (mallinfo2), where the tokenizer's Rust allocations live."""

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc's mallinfo2")
    mallinfo2.restype = MallInfo2
    return int(mallinfo2().uordblks)


def test_encoding_new_texts_keeps_nothing_per_text() -> None:
    enc = WordEncoder()
    enc.encode(_texts(200, seed=2))  # loaded, warmed
    texts = _texts(4_000, seed=3)
    before = _heap_in_use()
    enc.encode(texts)
    # with the cache on: about 16 MB for these 4,000 new texts, kept after the tokenizer is freed
    assert _heap_in_use() - before < 2 * 2**20
