"""Every string field of a record masked before storage, identifiers included.

Text columns are masked by the connectors as they build rows; this covers the rest: ids,
categories, tags, JSON. An identifier (``source``, ``source_id``, ``id``, ``*_id``) that holds
personal data (an e-mail address as a record id, a card number as an account id) cannot be
masked to ``<TYPE>``, or every such record would share one key: it is replaced by a keyed
hash instead (``pii-`` + 32 hex digits of HMAC-SHA256 with the configured hash key, as
e-mail addresses are hashed), so the same id always maps to the same stored key and upserts
stay idempotent. Every other string is masked in place: ids and categories for the pattern
types (a bare digit run in an id is a numeric id, not a phone number), JSON values also for
names.

A cheap pre-check keeps this fast: strings made only of lower-case ASCII letters and
``_-./:`` and spaces (``sales_call``, ``open``, ``web``) cannot hold any of the types and are
not scanned.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any
from weakref import WeakSet

from feedbackloop.governance.identity import email_hash, normalize_email
from nlp.pii import (
    EMAIL_ADDRESS,
    PHONE_NUMBER,
    US_SSN,
    MaskCache,
    MaskResult,
    PiiEntity,
    find_pii,
    mask_text,
)

__all__ = [
    "HASHED_ID_PREFIX",
    "clear_caches",
    "is_identifier",
    "keyed_id",
    "mask_fields",
    "mask_json",
    "masked_text",
    "text_cache",
]

HASHED_ID_PREFIX = "pii-"
_HASHED = re.compile(r"pii-[0-9a-f]{32}")
_PLAIN = re.compile(r"[a-z_\-./: ]*")


def is_identifier(column: str) -> bool:
    """Columns and JSON keys that name a record: hashed, never masked, when they hold PII."""
    return column in ("source", "source_id", "id", "external_id") or column.endswith("_id")


def _may_hold_pii(value: str) -> bool:
    return _PLAIN.fullmatch(value) is None


# In an id, a bare digit run can only be a card number (13 to 19 digits, Luhn checked): a
# shorter one (most record ids) is neither scanned nor cached.
_CARD_MIN_DIGITS = 13

# Ids, categories and tags repeat across records (the same requester, organization, status on
# thousands of rows): their detection results are kept for a run (`clear_caches`). Only short
# values: free text is not cached. The cache lives in memory only, like the records it came
# from.
_CACHED_LEN = 128


@lru_cache(maxsize=1 << 16)
def _id_entities_cached(value: str) -> tuple[PiiEntity, ...]:
    # A bare run of digits is how numeric ids look ("8100000001"): not a phone number or an
    # SSN here (a card number still is: Luhn and issuer checked). Names are left to the
    # context rules of free text.
    return tuple(
        e
        for e in find_pii(value, persons=False)
        if not (e.type in (PHONE_NUMBER, US_SSN) and value[e.start : e.end].isdigit())
    )


def _id_entities(value: str) -> tuple[PiiEntity, ...]:
    return _short_cached(_id_entities_cached, value)


def _short_cached(fn: Any, value: str, *args: Any) -> Any:
    """`fn` (an lru_cache) for short values; longer ones bypass the cache."""
    return fn(value, *args) if len(value) <= _CACHED_LEN else fn.__wrapped__(value, *args)


@lru_cache(maxsize=1 << 16)
def _masked_cached(value: str, persons: bool) -> tuple[str, tuple[str, ...]]:
    result = mask_text(value, persons=persons)
    return result.text, tuple(e.type for e in result.entities)


# Free text masked once per distinct text, within a sync run only (`text_cache`): templated
# replies, subjects and tags repeat across pages. The run's row builders (its page-producing
# thread runs in a copy of its context) and its gate share one cache, which ends with the
# run; outside a run (webhooks, the form, drops) nothing is cached.
_RUN_TEXTS: ContextVar[MaskCache | None] = ContextVar("run_texts", default=None)
_LIVE_TEXT_CACHES: WeakSet[MaskCache] = WeakSet()


def masked_text(text: str) -> MaskResult:
    """`mask_text(text)` (people included); in a `text_cache` run, once per distinct text."""
    cache = _RUN_TEXTS.get()
    return mask_text(text) if cache is None else cache.mask_text(text)


@contextmanager
def text_cache() -> Iterator[None]:
    """Cache `masked_text` results in this context until the block ends (a sync run)."""
    cache = MaskCache()
    _LIVE_TEXT_CACHES.add(cache)
    token = _RUN_TEXTS.set(cache)
    try:
        yield
    finally:
        _RUN_TEXTS.reset(token)
        cache.clear()


def clear_caches() -> None:
    """Drop every value the detection caches hold (raw ids and categories, e-mail addresses
    and the free text of runs still going among them): after an erasure, and when a sync run
    ends, so none outlives its run."""
    _id_entities_cached.cache_clear()
    _masked_cached.cache_clear()
    for cache in list(_LIVE_TEXT_CACHES):
        cache.clear()


def keyed_id(value: str, key: bytes, counts: Counter[str] | None = None) -> str:
    """``value`` unless it holds personal data; then its keyed hash, ``pii-`` + 32 hex digits
    (fits every id column; the same value always gives the same id)."""
    if not _may_hold_pii(value) or _HASHED.fullmatch(value):
        return value
    if len(value) < _CARD_MIN_DIGITS and value.isascii() and value.isdigit():
        return value  # a numeric id: shorter than a card number, the only type it could be
    entities = _id_entities(value)
    if not entities:
        return value
    if counts is not None:
        counts.update(e.type for e in entities)
    whole = entities[0]
    stripped = value.strip()
    if (
        len(entities) == 1
        and whole.type == EMAIL_ADDRESS
        and value[whole.start : whole.end] == stripped
    ):
        value = normalize_email(stripped)  # "Liam@X.com " and "liam@x.com" are one address
    return HASHED_ID_PREFIX + email_hash(value, key)[:32]


def _mask(value: str, counts: Counter[str] | None, *, persons: bool = True) -> str:
    if not _may_hold_pii(value):
        return value
    masked, types = _short_cached(_masked_cached, value, persons)
    if counts is not None and types:
        counts.update(types)
    return masked


def mask_json(
    value: Any, key: bytes, counts: Counter[str] | None = None, *, field: str = ""
) -> Any:
    """A copy of a JSON-like value with identifier keys' values hashed when they hold PII and
    every other string (dict keys too) masked."""
    if isinstance(value, str):
        return keyed_id(value, key, counts) if is_identifier(field) else _mask(value, counts)
    if isinstance(value, Mapping):
        return {
            (_mask(k, counts) if isinstance(k, str) else k): mask_json(
                v, key, counts, field=k if isinstance(k, str) else ""
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_json(v, key, counts, field=field) for v in value]
    return value


def mask_fields(
    row: Mapping[str, Any],
    *,
    key: bytes,
    skip: Collection[str] = (),
    counts: Counter[str] | None = None,
    identifier: Callable[[str], bool] = is_identifier,
) -> dict[str, Any]:
    """``row`` (column -> value) ready to store: identifier columns holding PII replaced by
    their keyed hash, every other string, list and JSON value masked. ``skip``: columns the
    caller has masked already (free text); ``counts`` gets the entity types replaced."""
    out = dict(row)
    for column, value in row.items():
        if column in skip or value is None:
            continue
        if isinstance(value, str):
            # A category or code ("IRL", "high") is no sentence: the name rules are for
            # free text, which the caller masks (and JSON, below).
            out[column] = (
                keyed_id(value, key, counts)
                if identifier(column)
                else _mask(value, counts, persons=False)
            )
        elif isinstance(value, (Mapping, list, tuple)):
            out[column] = mask_json(value, key, counts, field=column)
    return out
