"""Human labels for clusters: key phrases by class-based TF-IDF, a short label, a topic key,
and representative examples (the members nearest the centroid)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from nlp.topics.encoders import TermStats
from nlp.topics.text import LABEL_STOP_WORDS

MIN_PHRASE_SHARE = 0.2  # a bigram must occur in a fifth of the members to be a phrase
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class KeyPhrase:
    phrase: str
    weight: float  # share of members using it x its idf
    share: float  # share of members using it

    def as_dict(self) -> dict[str, object]:
        return {
            "phrase": self.phrase,
            "weight": round(self.weight, 4),
            "share": round(self.share, 4),
        }


@dataclass(frozen=True)
class ClusterLabel:
    label: str
    topic_key: str
    key_phrases: list[KeyPhrase] = field(default_factory=list)


def _terms(doc: Sequence[str]) -> set[str]:
    words = {w for w in doc if w not in LABEL_STOP_WORDS and not w[0].isdigit()}
    # bigrams of content words adjacent in the text (stop words in between break them)
    pairs = {f"{a} {b}" for a, b in pairwise(doc) if a != b and a in words and b in words}
    return words | pairs


def key_phrases(docs: Sequence[Sequence[str]], stats: TermStats, n: int = 5) -> list[KeyPhrase]:
    """The ``n`` terms that best tell this cluster apart: how many members use a term times
    how rare it is overall (class-based TF-IDF). A bigram replaces its own words when it is
    common enough; a word already inside a chosen bigram is skipped."""
    if not docs:
        return []
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(_terms(doc))
    size = len(docs)
    scored = []
    for term, count in df.items():
        share = count / size
        if " " in term:
            if share < MIN_PHRASE_SHARE:
                continue
            idf = max(stats.idf_of(w) for w in term.split())
        else:
            idf = stats.idf_of(term)
        scored.append(KeyPhrase(term, share * idf, share))
    scored.sort(key=lambda k: (-k.weight, k.phrase))
    # a word most of whose uses are inside one frequent bigram is shown as that bigram
    best_pair: dict[str, float] = {}
    for kp in scored:
        if " " in kp.phrase:
            for w in kp.phrase.split():
                best_pair[w] = max(best_pair.get(w, 0.0), kp.share)
    chosen: list[KeyPhrase] = []
    covered: set[str] = set()
    for kp in scored:
        words = kp.phrase.split()
        if len(words) == 1 and (
            kp.phrase in covered or best_pair.get(kp.phrase, 0.0) >= 0.6 * kp.share
        ):
            continue
        if len(words) == 2 and all(w in covered for w in words):
            continue
        chosen.append(kp)
        covered.update(words)
        if len(chosen) == n:
            break
    return chosen


def slug(words: Sequence[str], limit: int = 64) -> str:
    text = "_".join(_SLUG.sub("_", w.lower()).strip("_") for w in words if w)
    return text[:limit].strip("_") or "misc"


def topic_key_of(phrases: Sequence[KeyPhrase]) -> str:
    """snake_case key from the top phrases, at most three words (e.g. ``cancel_order``)."""
    words: list[str] = []
    for kp in phrases:
        for w in kp.phrase.split():
            if w not in words:
                words.append(w)
        if len(words) >= 2:
            break
    return slug(words[:3])


def label_cluster(docs: Sequence[Sequence[str]], stats: TermStats, n: int = 5) -> ClusterLabel:
    phrases = key_phrases(docs, stats, n)
    label = " / ".join(kp.phrase for kp in phrases[:3]) or "(no key phrase)"
    return ClusterLabel(label=label, topic_key=topic_key_of(phrases), key_phrases=phrases)


def item_topic_key(doc: Sequence[str], stats: TermStats) -> str:
    """Topic key of an item in no cluster: its two rarest content words, in text order."""
    words = [w for w in dict.fromkeys(doc) if w not in LABEL_STOP_WORDS and not w[0].isdigit()]
    if not words:
        return "misc"
    top = sorted(words, key=lambda w: (-stats.idf_of(w), w))[:2]
    return slug([w for w in words if w in top])


def representative(z: np.ndarray, centroid: np.ndarray, n: int = 5) -> list[int]:
    """Row positions of the ``n`` members nearest the centroid (ties: earlier row first)."""
    if not len(z):
        return []
    sims = z @ centroid
    order = np.lexsort((np.arange(len(z)), -sims))
    return [int(i) for i in order[:n]]
