"""The given-name/surname gazetteer behind the PERSON rules of `nlp.pii.masking`.

Read from Faker's person providers (MIT licence; 86 locales: English, Spanish, French,
German, Portuguese, Indian, Pakistani, Nigerian (Yoruba, Hausa, Igbo), Chinese and Japanese
romanizations, Vietnamese, Turkish, ...), loaded once on first use: nothing is downloaded and
no name is typed in here. Names are kept casefolded, one token per entry ("Jean-Luc" gives
"jean" and "luc"); one-letter tokens are dropped.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Gazetteer", "gazetteer", "locales"]

_GIVEN_PREFIXES = ("first_name", "first_romanized", "first_kana")
_SURNAME_PREFIXES = ("last_name", "last_romanized", "last_kana", "male_last", "unisex_last")


@dataclass(frozen=True, slots=True)
class Gazetteer:
    given: frozenset[str]
    surnames: frozenset[str]
    known: frozenset[str]  # given names and surnames
    locales: tuple[str, ...]


def locales() -> list[str]:
    """The Faker locales that ship a person provider."""
    import faker.providers.person as person

    return sorted(m.name for m in pkgutil.iter_modules(person.__path__))


def _tokens(value: Any) -> Iterable[str]:
    # Values are tuples, lists or weighted OrderedDicts of names, or (ja_JP) tuples of pairs.
    if isinstance(value, str):
        for part in value.replace("-", " ").split():
            part = part.strip(".")
            if len(part) >= 2:
                yield part.casefold()
    elif isinstance(value, (tuple, list, set, frozenset, dict)):
        for item in value:
            yield from _tokens(item)


def _load() -> Gazetteer:
    given: set[str] = set()
    surnames: set[str] = set()
    names = locales()
    for locale in names:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in dir(provider):
            if attr.startswith(_GIVEN_PREFIXES):
                target = given
            elif attr.startswith(_SURNAME_PREFIXES):
                target = surnames
            else:
                continue
            # Class attributes only: some providers define computed properties.
            target.update(_tokens(getattr(provider, attr, None)))
    return Gazetteer(
        frozenset(given), frozenset(surnames), frozenset(given | surnames), tuple(names)
    )


_lock = threading.Lock()
_cache: list[Gazetteer] = []


def gazetteer() -> Gazetteer:
    """The gazetteer, built on first call (about 0.2 s) and shared afterwards."""
    if not _cache:
        with _lock:
            if not _cache:
                _cache.append(_load())
    return _cache[0]
