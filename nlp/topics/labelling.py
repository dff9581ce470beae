"""Human labels for clusters: the most central member text (a question or a short sentence,
trimmed) plus key phrases by class-based TF-IDF, a topic key, and representative examples
(the members nearest the centroid)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from nlp.topics.encoders import TermStats
from nlp.topics.text import LABEL_STOP_WORDS

MIN_PHRASE_SHARE = 0.2  # a bigram must occur in a fifth of the members to be a phrase
MIN_LIFT = 2.0  # a phrase is at least twice as common in the cluster as in the rest
LABEL_PHRASES = 3  # key phrases shown next to the central text
LABEL_CHARS = 90  # a label longer than this is cut at a word boundary
SHORT_TEXT = 140  # a member text this short reads as a label once trimmed
_SLUG = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_QUESTION_START = re.compile(
    r"^(how|what|where|when|why|who|which|can|could|do|does|did|is|are|will|would|should|may)\b",
    re.IGNORECASE,
)


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
    label: str  # the central member text, trimmed; the key phrases when there is no text
    topic_key: str
    key_phrases: list[KeyPhrase] = field(default_factory=list)

    @property
    def phrases(self) -> list[str]:
        return [kp.phrase for kp in self.key_phrases[:LABEL_PHRASES]]

    @property
    def title(self) -> str:
        """One line: central text, then its key phrases ("How do I ...? (refund, card)")."""
        return f"{self.label} ({', '.join(self.phrases)})" if self.phrases else self.label


def _terms(doc: Sequence[str]) -> set[str]:
    words = {w for w in doc if w not in LABEL_STOP_WORDS and not w[0].isdigit() and "'" not in w}
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
        # distinctive: far more common here than in the rest of the corpus (the smoothed idf
        # gives the corpus count; the members' own uses are taken out of it)
        corpus_df = (1 + stats.n_docs) * math.exp(1.0 - idf) - 1
        rest = max(corpus_df - count, 0.0) / max(stats.n_docs - size, 1)
        if share < MIN_LIFT * rest:
            continue
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


def _is_question(sentence: str) -> bool:
    return sentence.endswith("?") or bool(_QUESTION_START.match(sentence))


def trim_text(text: str, limit: int = LABEL_CHARS) -> str:
    """The text's first question, else its first sentence, on one line and cut at a word
    boundary to ``limit`` characters."""
    sentences = [_SPACE.sub(" ", m.group()).strip() for m in _SENTENCE.finditer(text or "")]
    sentences = [x for x in sentences if len(x) > 1]
    if not sentences:
        return ""
    chosen = next((x for x in sentences if x.endswith("?")), sentences[0])
    if len(chosen) > limit:
        chosen = chosen[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:- ") + "…"
    return chosen


def central_text(texts: Sequence[str]) -> str:
    """A label from the members nearest the centroid (nearest first): the first that is a
    question, else the first short one, else the nearest, trimmed."""
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        return ""
    short = [t for t in texts if len(_SPACE.sub(" ", t).strip()) <= SHORT_TEXT]
    for t in short or texts:
        if _is_question(trim_text(t, 10_000)):
            return trim_text(t)
    return trim_text((short or texts)[0])


def label_cluster(
    docs: Sequence[Sequence[str]],
    stats: TermStats,
    central: Sequence[str] = (),
    n: int = 5,
) -> ClusterLabel:
    """``docs``: the members' lemmas; ``central``: member texts nearest the centroid (nearest
    first; masked), of which one becomes the label."""
    phrases = key_phrases(docs, stats, n)
    label = central_text(central) or " / ".join(kp.phrase for kp in phrases[:LABEL_PHRASES])
    return ClusterLabel(
        label=label or "(no key phrase)", topic_key=topic_key_of(phrases), key_phrases=phrases
    )


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
