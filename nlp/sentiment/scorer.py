"""Rule-based sentiment and frustration scoring for support language (no spaCy needed).

The valence arithmetic follows the published VADER heuristics (Hutto & Gilbert 2014):
boosters, negation scaling, contrast weighting, punctuation emphasis and the
x / sqrt(x^2 + alpha) normalisation; negative evidence is weighted 1.5x as in SO-CAL
(Taboada et al. 2011). The rest (support cues, sarcasm, question damping, frustration,
language flagging) is specific to customer feedback.

Rules version ``rules-v3`` (``RULES_VERSION``).
"""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from nlp.labels import LABELS as LABELS  # re-exported: nlp.sentiment.LABELS
from nlp.sentiment.resources import (
    COMPLAINT_CATEGORIES,
    FRUSTRATION_CATEGORIES,
    Resources,
    trigger_keys,
)

# The version of these rules: saved pipelines and adapted models record it.
RULES_VERSION = "rules-v3"
THREE_CLASSES = ("negative", "neutral", "positive")

NEGATION_SCALAR = -0.74  # VADER's empirically derived negation factor
CAPS_BOOST = 0.733
EXCLAIM_BOOST = 0.292
QMARK_BOOST = 0.18
ALPHA = 15.0
CONTRAST_BEFORE = 0.5
CONTRAST_AFTER = 1.5
# A negated negative word is weakly positive ("not bad" is not "good"), and a negated
# intensified word is weakly negative ("not very good" is not "bad").
NEGATED_NEGATIVE_SCALAR = -0.5
NEGATED_BOOSTED_SCALAR = -0.45
# Closing/opening courtesy words carry no opinion in a complaint.
POLITENESS = frozenset({"thanks", "thank", "thx", "ty", "cheers", "please", "pls", "plz"})
# Contrast words whose role depends on position (see _contrast_weights).
_YET_BLOCK = frozenset({"again", "another", "to", "more", "?"})
_YET_AFTER = frozenset({",", ";", "and", "-", "—"})
_NEG_PASS = frozenset({"or", "nor"})
# what may stand between a negator and a negative word that it turns mildly positive
_OPEN_TO_NEGATION = frozenset(
    {"a", "an", "the", "any", "single", "real", "big", "major", "so", "too", "that", "such"}
    | {"much", "very", "really", "at", "all", "is", "was", "be", "been", "it", "this"}
    | {"have", "has", "had", "having", "got", "get", "gotten", "experienced", "seen", "found"}
    | {"encountered", "noticed", "one"}
)

# One token pattern shared by the spaCy tokenizer and the scorer, so explanation tokens
# line up with doc tokens. Order matters: URLs/emails/emoticons before words/punctuation.
_URL_BODY = r"https?://[^\s<>\"]+|www\.[^\s<>\"]+"
_EMAIL_BODY = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_EMOTICON_BODY = (
    r"(?<![\w:;=])(?:[<>]?[:;=][\-o*']?[)\](\[dDpP/|\\@3sS]{1,2}|[xX][dD]|\^_?\^|-_-|T_T|</?3|D:)"
    r"(?![\w)(])"
)
# Plain prose needs none of the URL/email/emoticon alternatives, which are slow to try.
FAST_TOKEN_BODY = r"[^\W\d_]+(?:['-][^\W\d_]+)*|\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|%|x)?|[^\w\s]|\S"
TOKEN_BODY = "|".join((_URL_BODY, _EMAIL_BODY, _EMOTICON_BODY, FAST_TOKEN_BODY))
TOKEN_RE = re.compile(TOKEN_BODY)
FAST_TOKEN_RE = re.compile(FAST_TOKEN_BODY)
_SPECIAL_CHARS = frozenset(":;=@<^_")
# Necessary conditions for the special alternatives to match anywhere in a text: without
# them an alternative can be left out of the pattern and the tokens stay the same.
_EMAIL_HINT = re.compile(r"[\w.+-]@[\w-]")
# (no look-behind: it would stop re from skipping ahead to candidate characters)
_EMOTICON_HINT = re.compile(r"[:;=<^]|[xX][dD]|-_|T_")
_PARTIAL: dict[tuple[bool, bool, bool], re.Pattern[str]] = {}


def token_regex(text: str) -> re.Pattern[str]:
    """The cheapest token pattern that is still exact for this text.

    Texts without any of ``:;=@<^_`` or "www." use the plain-prose pattern. Others get the
    URL, e-mail and emoticon alternatives only where such a token can occur ("@name" in a
    tweet needs no e-mail alternative, which costs a scan of every word)."""
    for ch in _SPECIAL_CHARS:
        if ch in text:
            break
    else:
        if "www." not in text and "WWW." not in text:
            return FAST_TOKEN_RE
    key = (
        "://" in text or "www." in text,
        "@" in text and _EMAIL_HINT.search(text) is not None,
        _EMOTICON_HINT.search(text) is not None,
    )
    pattern = _PARTIAL.get(key)
    if pattern is None:
        parts = [
            b for b, on in zip((_URL_BODY, _EMAIL_BODY, _EMOTICON_BODY), key, strict=True) if on
        ]
        pattern = _PARTIAL[key] = (
            TOKEN_RE if all(key) else re.compile("|".join((*parts, FAST_TOKEN_BODY)))
        )
    return pattern


_HTML_TAG = re.compile(r"<(?:[a-zA-Z/!][^<>]{0,500})>")
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6});")
_ENTITY_CHARS = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}
_ELONGATED = re.compile(r"([a-z])\1{2,}")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']+\b")
_TWO_CAPS = re.compile(r"[A-Z][A-Z']")  # needed by any all-caps word of _CAPS_WORD
_SENT_END = frozenset({".", "!", "?", "\n"})
_HOWTO_STARTS = frozenset(
    {
        "how",
        "where",
        "what",
        "which",
        "when",
        "can",
        "could",
        "is",
        "are",
        "do",
        "does",
        "will",
        "would",
        "should",
        "may",
        "any",
        "whats",
        "what's",
        "hows",
        "how's",
        "wheres",
        "where's",
        "anyone",
        "anybody",
        "please",
        "hi",
        "hello",
        "hey",
        "i",
    }
)


def _passes(gate: tuple[tuple[str, ...], ...], low: str) -> bool:
    """Whether ``low`` holds a string of every gate group (plain loops: this runs for
    most texts, and generator expressions cost more than the ``in`` checks)."""
    for group in gate:
        for s in group:
            if s in low:
                break
        else:
            return False
    return True


def strip_html(text: str) -> str:
    """Blank out tags and entities with same-length padding so offsets stay valid."""
    if "<" in text:
        text = _HTML_TAG.sub(lambda m: " " * len(m.group()), text)
    if "&" in text:
        text = _HTML_ENTITY.sub(
            lambda m: _ENTITY_CHARS.get(m.group().lower(), " ").ljust(len(m.group())), text
        )
    return text


@dataclass(slots=True)
class Analysis:
    """Full scoring result; ``payload()`` is the part stored on the Doc."""

    score: float = 0.0
    label: str = "neutral"
    frustrated: bool = False
    explanation: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    scored: bool = True
    reason: str = ""
    categories: set[str] = field(default_factory=set)
    words: list[str] = field(default_factory=list)
    negated_words: set[int] = field(default_factory=set)
    pos_sum: float = 0.0
    neg_sum: float = 0.0
    raw_total: float = 0.0
    is_question: bool = False
    exclamations: int = 0
    shouting: bool = False
    evidence: list[str] = field(default_factory=list)

    @property
    def label3(self) -> str:
        return fold_label(self.label)


def fold_label(label: str) -> str:
    if label.endswith("negative"):
        return "negative"
    if label.endswith("positive"):
        return "positive"
    return "neutral"


def label_for(score: float, neutral_band: float, strong: float) -> str:
    if score >= strong:
        return "very_positive"
    if score >= neutral_band:
        return "positive"
    if score <= -strong:
        return "very_negative"
    if score <= -neutral_band:
        return "negative"
    return "neutral"


def normalize(total: float) -> float:
    return total / math.sqrt(total * total + ALPHA)


def _concede(weights: list[float], conceded: range, point: range) -> None:
    """Contrast: the conceded tokens count less, the ones making the point count more."""
    for j in conceded:
        weights[j] = CONTRAST_BEFORE
    for j in point:
        weights[j] = CONTRAST_AFTER


@dataclass(frozen=True)
class ScorerConfig:
    neutral_band: float = 0.05
    strong_threshold: float = 0.6
    frustration_threshold: float = -0.35
    question_damping: float = 0.6
    howto_damping: float = 0.1
    max_chars: int = 50_000
    # Negative evidence counts 1.5x: a fixed a-priori choice from Taboada et al. (2011),
    # "Lexicon-based methods for sentiment analysis" (SO-CAL's negative weighting), not
    # fitted to any data. Lexicons are skewed positive, and in support feedback a
    # complaint next to a courtesy is still a complaint.
    negativity_weight: float = 1.5


# Distinct token strings remembered per process (cue triggers, elongation/hyphen
# fallbacks); the caches are dropped and rebuilt past this size.
_CACHE_LIMIT = 500_000


class _Memo:
    """What the scorer learns about token strings on first sight (per lexicon, shared by
    every Scorer of the process: each pipeline would otherwise re-learn the same words).

    ``info`` maps a lowercased token to 0 (no role) or its roles as a tuple
    ``(valence or None, elongated, cue ids it can trigger, is a modifier)``, so a text's
    roles are one C-level ``map`` of one dict lookup per token.
    """

    def __init__(self, resources: Resources) -> None:
        self.resources = resources  # keeps the id() key of _MEMOS alive
        # tokens that can change a lexicon hit's weight: boosters/diminishers (also the
        # second word of two-word ones) and negators; "n't" forms are added on first sight
        self.boosters = dict(resources.boosters)  # + elongated forms ("soooo")
        self.modifier_keys: set[str] = (
            set(resources.boosters)
            | {b for _, b in resources.booster_bigrams}
            | set(resources.negators)
        )
        self.info: dict[str, Any] = {}


_MEMOS: dict[int, _Memo] = {}


def _memo_for(resources: Resources) -> _Memo:
    memo = _MEMOS.get(id(resources))
    if memo is None or memo.resources is not resources:
        memo = _MEMOS[id(resources)] = _Memo(resources)
    return memo


def _common_words() -> set[str]:
    from nlp.sentiment.lexattrs import common_tokens  # spaCy-side module: lazy

    return {w.lower() for w in common_tokens()}


class Scorer:
    def __init__(self, resources: Resources, config: ScorerConfig | None = None) -> None:
        self.res = resources
        self.cfg = config or ScorerConfig()
        # language guess: a text's distinct tokens are intersected with these (C-level)
        self._stopwords = {
            lang: frozenset(w for w in words if w[:1].isalpha())
            for lang, words in resources.stopwords.items()
        }
        self._en_stop = self._stopwords.get("en", frozenset())
        self._all_stop = frozenset().union(*self._stopwords.values())
        self._contrast = resources.contrast_after | resources.contrast_before | {"yet", "while"}
        # per-process caches keyed by the lowercased token, filled on first sight
        memo = _memo_for(resources)
        fresh = not memo.info
        self._boosters = memo.boosters
        self._modifier_keys = memo.modifier_keys
        self._info = memo.info
        if fresh:  # the most frequent English tokens are learnt once, up front
            self._learn(_common_words())

    # -- helpers -------------------------------------------------------------------
    def _lookup(self, word: str) -> tuple[float | None, bool]:
        """Valence for a lowercased token; second item says it was elongated ("sooo")."""
        v = self.res.valence.get(word)
        if v is not None:
            return v, False
        if len(word) > 3 and _ELONGATED.search(word):
            for squeezed in (_ELONGATED.sub(r"\1\1", word), _ELONGATED.sub(r"\1", word)):
                v = self.res.words.get(squeezed)
                if v is not None:
                    return v, True
        if "-" in word:
            parts = [self.res.words.get(p) for p in word.split("-")]
            vals = [p for p in parts if p is not None]
            if vals:
                return sum(vals), False
        return None, False

    def _learn(self, new: set[str]) -> None:
        """Classify token strings seen for the first time in this process: their valence
        (lexicon, or an elongation/hyphen fallback), the support cues they can trigger,
        whether they boost or negate. Each distinct string is looked at once."""
        info = self._info
        if len(info) > _CACHE_LIMIT:
            info.clear()
        res = self.res
        trig, short, valence = res.cue_triggers, res.cue_short_triggers, res.valence
        boosters, modifier_keys = self._boosters, self._modifier_keys
        for t in new:
            ids: set[int] = set(trig.get(t[:5], ()))
            if len(t) > 3:
                ids.update(short.get(t[:4], ()))
            ids.update(short.get(t[:3], ()))
            hyphen = "-" in t
            if hyphen or "/" in t:
                for key in trigger_keys(t):
                    ids.update(trig.get(key, ()))
            if t.endswith("n't"):
                modifier_keys.add(t)
            elongated = len(t) > 3 and _ELONGATED.search(t) is not None
            if elongated and t not in boosters:
                for squeezed in (_ELONGATED.sub(r"\1\1", t), _ELONGATED.sub(r"\1", t)):
                    b = boosters.get(squeezed)
                    if b is not None and t not in valence:
                        boosters[t] = b + (0.1 if b > 0 else 0.0)
                        modifier_keys.add(t)
                        break
            v: float | None = valence.get(t)
            elong = False
            if v is None and (hyphen or elongated):
                v, elong = self._lookup(t)
                v = v or None
            mod = t in modifier_keys
            info[t] = (v, elong, tuple(sorted(ids)), mod) if (v is not None or ids or mod) else 0

    def _language(self, tokset: set[str]) -> str:
        hit = tokset & self._all_stop
        if not hit:  # no function word of any language we know
            return "en" if any(t[0].isalpha() for t in tokset) else "und"
        en_hits = len(hit & self._en_stop)
        if en_hits >= 2 and (
            en_hits * 8 >= len(tokset) or en_hits * 8 >= sum(1 for t in tokset if t[0].isalpha())
        ):
            return "en"
        hits = {lang: len(stops & hit) for lang, stops in self._stopwords.items()}
        en = hits.get("en", 0)
        best = max(hits, key=lambda k: (hits[k], k == "en"))
        if best == "en":
            return "en"
        # words like "as", "ha", "plus", "con" are English too: a language needs at least
        # one function word that is not ("Nervous as hell" is English)
        strong = len((self._stopwords[best] & hit) - self.res.ambiguous_stopwords)
        if strong and hits[best] > en and hits[best] >= 2:
            return best
        if en == 0 and strong and hits[best] >= 1:
            return best
        return "en"

    # -- main entry ----------------------------------------------------------------
    def analyze(self, text: str, tokens: list[str] | None = None) -> Analysis:
        """Score ``text``. ``tokens``: the same text already split by ``TOKEN_RE`` (with
        whitespace tokens allowed), e.g. from our spaCy tokenizer, to skip re-tokenizing."""
        cfg = self.cfg
        out = Analysis()
        if not text or text.isspace():
            out.scored, out.reason, out.language = False, "empty", "und"
            return out
        truncated = len(text) > cfg.max_chars
        if truncated:
            text = text[: cfg.max_chars]
        clean = text
        if "<" in clean or "&" in clean:
            clean = strip_html(clean)
        if "\u2019" in clean or "\u2018" in clean:
            clean = clean.replace("\u2019", "'").replace("\u2018", "'")

        if tokens is not None and clean is text and not truncated:
            # whitespace tokens exist only for runs of spaces, leading space or other
            # whitespace (newline, tab, NBSP: all non-printable by str.isprintable)
            if text.isprintable() and "  " not in text and text[0] != " ":
                orig = tokens if isinstance(tokens, list) else list(tokens)
            else:
                orig = [t for t in tokens if not t.isspace()]
        else:  # HTML, curly quotes or truncation changed the text: tokenize the clean one
            orig = token_regex(clean).findall(clean)
        # no token contains whitespace, so one join/lower/split lowercases them all
        toks = " ".join(orig).lower().split(" ") if orig else []
        out.words = toks
        if truncated:
            out.explanation.append({"rule": "truncated", "weight": 0.0, "chars": cfg.max_chars})
        tokset = set(toks)
        info_get = self._info.get
        roles = list(map(info_get, toks))
        if None in roles:  # tokens never seen in this process
            self._learn({t for t, r in zip(toks, roles, strict=True) if r is None})
            roles = list(map(info_get, toks))
            if None in roles:  # the memo was full and has just been reset
                self._learn(tokset)
                roles = list(map(info_get, toks))

        lang = self._language(tokset) if toks else "und"
        out.language = lang
        if lang not in ("en", "und"):
            return self._foreign(out, toks, lang)

        res = self.res
        contributions: list[tuple[int, float, dict[str, Any]]] = []

        # 1. support cues (multi-word); tokens they cover are not scored again. Only cues
        #    that a token of this text can trigger are run.
        covered: set[int] = set()
        # positions of the tokens with any role; most tokens have none
        at = list(compress(range(len(toks)), roles))
        cand: set[int] = set()
        for i in at:
            ids = roles[i][2]
            if ids:
                cand.update(ids)
        if cand:
            self._cues(clean, tokset, cand, covered, contributions, out)
        # an explicit sarcasm marker ("yeah right", "/s", "#sarcasm") turns praise around
        marked = "sarcasm" in out.categories

        # 2. lexicon words and emoji with boosters, caps and negation.
        shouting = False
        # (C-level precheck: shouting needs three all-caps tokens before the regex runs)
        if _TWO_CAPS.search(clean) and list(map(str.isupper, orig)).count(True) >= 3:
            n_caps = len(_CAPS_WORD.findall(clean))
            shouting = n_caps >= 3 and n_caps >= 0.6 * sum(1 for t in toks if t[0].isalpha())
        out.shouting = shouting
        hits = [(i, r[0], r[1]) for i in at if (r := roles[i])[0] is not None]
        if hits:
            mods = [i for i in at if roles[i][3]]
            self._lexicon(orig, toks, hits, mods, covered, shouting, contributions, out)
        if marked:
            for pos, (i, v, info) in enumerate(contributions):
                if v > 0 and "token" in info:
                    info["sarcasm"] = True
                    contributions[pos] = (i, -abs(v), info)

        # courtesy: "thanks"/"please" in a text that is otherwise negative is politeness,
        # not praise ("Still no refund. Thanks."); "Thanks, that fixed it!" keeps it.
        if contributions and not tokset.isdisjoint(POLITENESS):
            self._politeness(toks, contributions)
        # amplifier cues ("again", "every time I") only add to a complaint made elsewhere
        if out.categories:
            self._amplifiers(contributions, out)

        # 3. sarcasm: a sentence-initial positive word set off by punctuation, followed by
        #    negative evidence ("Great, another outage.", "Thanks... charged twice again").
        if contributions and not tokset.isdisjoint(res.sarcasm_openers):
            self._sarcasm(toks, contributions, out)

        # 4. contrast: the clause after "but"/"however" outweighs the one before.
        n = len(toks)
        weights = None if tokset.isdisjoint(self._contrast) else self._contrast_weights(toks, n)
        total = 0.0
        pos_sum = neg_sum = 0.0
        explanation = out.explanation
        negw = cfg.negativity_weight
        for i, v, info in contributions:
            if weights:
                w = weights[i]
                v = v * w
                if w != 1.0:
                    info["contrast"] = w
            if v < 0:
                v *= negw
            total += v
            if v > 0:
                pos_sum += v
            else:
                neg_sum += v
            info["weight"] = round(v * 1000.0) / 1000.0  # round(v, 3), at a third of the cost
            explanation.append(info)
        if weights:
            explanation.append({"rule": "contrast", "weight": 0.0, "after": CONTRAST_AFTER})

        # 5. punctuation emphasis, shouting.
        n_excl = clean.count("!")
        out.exclamations = n_excl
        if total != 0.0:
            sign = 1.0 if total > 0 else -1.0
            if n_excl:
                excl = min(n_excl, 4)
                total += sign * excl * EXCLAIM_BOOST
                explanation.append({"rule": "exclamation", "weight": round(sign * excl * 0.292, 3)})
            q = clean.count("?")
            if q > 1:
                total += sign * min(q, 3) * QMARK_BOOST
                explanation.append({"rule": "question_marks", "weight": round(sign * 0.18, 3)})
            if shouting and total < 0:
                explanation.append({"rule": "all_caps", "weight": round(total * 0.25, 3)})
                total *= 1.25

        # 6. questions: a how-to question without complaint evidence is neutral.
        is_question = "?" in clean
        first = None
        if is_question:
            first = next((t for t in toks if t[0].isalpha()), None)
            is_question = clean.rstrip().endswith("?") or first in res.question_starters
            out.is_question = is_question
        if (
            is_question
            and total != 0.0
            and not (out.categories & COMPLAINT_CATEGORIES or neg_sum <= -1.5)
        ):
            howto = first in _HOWTO_STARTS
            damp = cfg.howto_damping if howto else cfg.question_damping
            explanation.append(
                {
                    "rule": "howto_question" if howto else "question",
                    "weight": round(total * (damp - 1.0), 3),
                }
            )
            total *= damp

        score = normalize(total) if total else 0.0
        out.raw_total, out.pos_sum, out.neg_sum = total, pos_sum, neg_sum
        out.score = round(score, 4)
        out.label = label_for(out.score, cfg.neutral_band, cfg.strong_threshold)
        if not contributions:
            out.reason = "no_sentiment_evidence"

        # 7. frustration: strong negative + support evidence (repeat contact, waiting,
        #    churn threats, escalation, billing) or shouting / repeated "!".
        #    The evidence is kept even when not frustrated: an adapted model may still
        #    move the score past the threshold.
        evidence = sorted(out.categories & FRUSTRATION_CATEGORIES) if out.categories else []
        if shouting:
            evidence.append("all_caps")
        if n_excl >= 2 or "?!" in clean or "!?" in clean:
            evidence.append("exclamations")
        out.evidence = evidence
        out.frustrated = score <= cfg.frustration_threshold and bool(evidence)
        if out.frustrated:
            explanation.append({"rule": "frustration", "weight": 0.0, "evidence": evidence})
        return out

    # -- pieces ---------------------------------------------------------------------
    def _cues(
        self,
        clean: str,
        tokset: set[str],
        cand: set[int],
        covered: set[int],
        contributions: list,
        out: Analysis,
    ) -> None:
        res = self.res
        low = ""
        found = []
        cues = res.cues
        for idx in sorted(cand):
            cue = cues[idx]
            if cue.requires and tokset.isdisjoint(cue.requires):
                continue
            if not low:
                low = clean.lower()
            # literal substrings every match contains: a few C-level ``in`` checks spare
            # most regex scans
            if cue.gate and not _passes(cue.gate, low):
                continue
            for m in cue.pattern.finditer(low):
                st, end = m.span()
                # word-start check done here: a lookbehind would disable re's
                # first-character scan and triple the cost
                if end > st and (st == 0 or not (low[st - 1].isalnum() or low[st - 1] in "'_")):
                    found.append((st, st - end, idx, end))
        if not found:
            return
        found.sort()
        starts = [m.start() for m in token_regex(clean).finditer(clean)]
        last_end = -1
        for start, _neg_len, idx, end in found:
            if start < last_end:
                continue
            last_end = end
            cue = res.cues[idx]
            i0 = max(bisect_right(starts, start) - 1, 0)
            i1 = bisect_right(starts, end - 1)
            covered.update(range(i0, i1))
            out.categories.add(cue.category)
            info = {"rule": f"cue:{cue.category}", "text": clean[start:end]}
            if cue.amplifier:
                info["amplifier"] = True
            contributions.append((i0, cue.valence, info))

    def _lexicon(
        self,
        orig: list[str],
        toks: list[str],
        hits: list[tuple[int, float, bool]],
        mods: list[int],
        covered: set[int],
        shouting: bool,
        contributions: list,
        out: Analysis,
    ) -> None:
        """Lexicon hits (position, valence, elongated) with boosters, caps and negation;
        ``mods``: positions of boosters/negators."""
        res = self.res
        negators, boosters, bigrams = res.negators, self._boosters, res.booster_bigrams
        brk = res.clause_breaks
        if covered:
            hits = [h for h in hits if h[0] not in covered]
        if not mods:  # common: nothing boosts or negates, only elongation and caps
            for i, v, elong in hits:
                o = orig[i]
                info = {"token": o, "i": i}
                if elong:
                    v += 0.3 if v > 0 else -0.3
                if not shouting and o.isupper() and len(o) > 1 and o.isalpha():
                    v += CAPS_BOOST if v > 0 else -CAPS_BOOST
                    info["caps"] = True
                contributions.append((i, v, info))
            return
        # positions that have a booster or negator among the three tokens before them
        reach = {j + k for j in mods for k in (1, 2, 3)}
        for i, v, elong in hits:
            sign = 1.0 if v > 0 else -1.0
            o = orig[i]
            info: dict[str, Any] = {"token": o, "i": i}
            if i not in reach:
                # no booster or negator in reach: only elongation and caps apply
                if elong:
                    v += sign * 0.3
                if not shouting and o.isupper() and len(o) > 1 and o.isalpha():
                    v += sign * CAPS_BOOST
                    info["caps"] = True
                contributions.append((i, v, info))
                continue
            # boosters / diminishers within three tokens, decaying with distance
            base = v
            boosted = False
            for k, scale in ((1, 1.0), (2, 0.95), (3, 0.9)):
                j = i - k
                if j < 0 or (toks[j] in brk and toks[j] not in boosters):  # "so good"
                    break
                b = boosters.get(toks[j])
                if b is None and j > 0:
                    b = bigrams.get((toks[j - 1], toks[j]))
                if b is not None:
                    v += sign * b * scale
                    boosted = boosted or b > 0
                    if not shouting and orig[j].isupper() and len(orig[j]) > 1:
                        v += sign * b * 0.5
            if elong:
                v += sign * 0.3
            o = orig[i]
            if not shouting and o.isupper() and len(o) > 1 and o.isalpha():
                v += sign * CAPS_BOOST
                info["caps"] = True
            # negation: a negator within three tokens before, inside the same clause
            for k in (1, 2, 3):
                j = i - k
                # "not so good": a booster is no clause break; "not helpful or friendly":
                # negation scopes over a coordination with "or"/"nor"
                if j < 0 or (
                    toks[j] in brk and toks[j] not in _NEG_PASS and toks[j] not in boosters
                ):
                    break
                if toks[j] in negators or toks[j].endswith("n't"):
                    if boosted and k > 1 and boosters.get(toks[j + 1], 0.0) > 0:
                        # "not very good": a negated intensifier softens, not reverses
                        v = base * NEGATED_BOOSTED_SCALAR
                    elif sign < 0:
                        if k > 1 and not _OPEN_TO_NEGATION.issuperset(toks[j + 1 : i]):
                            # "didn't fix the problem", "can't report the bug": the
                            # negator belongs to the verb; the problem stays a problem
                            break
                        # "not bad", "no real problems", "never had any issues": mildly positive
                        v *= NEGATED_NEGATIVE_SCALAR
                    else:
                        v *= NEGATION_SCALAR
                    info["negated_by"] = orig[j]
                    out.negated_words.add(i)
                    break
            contributions.append((i, v, info))

    @staticmethod
    def _politeness(toks: list[str], contributions: list) -> None:
        polite = [
            pos
            for pos, (i, v, info) in enumerate(contributions)
            if v > 0 and "token" in info and toks[i] in POLITENESS
        ]
        if not polite:
            return
        rest = sum(v for pos, (_, v, _) in enumerate(contributions) if pos not in polite)
        if rest < 0:
            for pos in polite:
                i, _v, info = contributions[pos]
                info["politeness"] = True
                contributions[pos] = (i, 0.0, info)

    @staticmethod
    def _amplifiers(contributions: list, out: Analysis) -> None:
        amps = [pos for pos, (_, _, info) in enumerate(contributions) if info.get("amplifier")]
        if not amps:
            return
        rest = sum(v for pos, (_, v, _) in enumerate(contributions) if v < 0 and pos not in amps)
        if rest < 0:
            return
        for pos in amps:
            i, _v, info = contributions[pos]
            info["no_complaint"] = True
            contributions[pos] = (i, 0.0, info)
        # no complaint, so not evidence of one either
        out.categories = {
            str(info["rule"])[4:]
            for _, _, info in contributions
            if str(info.get("rule", "")).startswith("cue:") and not info.get("no_complaint")
        }

    def _sarcasm(self, toks: list[str], contributions: list, out: Analysis) -> None:
        res = self.res
        openers = res.sarcasm_openers
        rest_negative = sum(v for _, v, _ in contributions if v < 0) < -0.5 or bool(
            out.categories & COMPLAINT_CATEGORIES
        )
        for pos, (i, v, info) in enumerate(contributions):
            if v <= 0 or "token" not in info:
                continue
            t = toks[i]
            sentence_start = (
                i == 0
                or toks[i - 1] in _SENT_END
                or (
                    toks[i - 1] in ("oh", "just", "wow", "yeah", "so", "well")
                    and (i == 1 or toks[i - 2] in _SENT_END)
                )
            )
            if not (sentence_start and t in openers):
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            after = toks[i + 2 : i + 6]
            target = any(w in res.sarcasm_targets for w in after)
            # praise after the opener means it was meant ("Yay! Another good interview!")
            praised = any(v2 > 0 and i2 > i and "token" in info2 for i2, v2, info2 in contributions)
            if (
                nxt in (",", ".", "!", "…", "...", "-")
                and (target or rest_negative)
                and (target or len(contributions) > 1)
                and not praised
            ):
                info["sarcasm"] = True
                contributions[pos] = (i, -abs(v), info)
                out.categories.add("sarcasm")

    def _contrast_weights(self, toks: list[str], n: int) -> list[float] | None:
        """Per-token weights: the clause a contrast word points to outweighs the other.

        "X but Y", "X, yet Y": Y counts more. "Although/While X, Y": Y counts more.
        A sentence opening with "But"/"However"/"Yet" outweighs the sentence before, and
        a sentence ending in "though" ("Crashes a lot though.") outweighs the one before.
        Mid-sentence "while" (mostly temporal) and "X, though Y" (either reading) are left
        alone, as are "not yet", "yet again" and "yet to".
        """
        res = self.res
        after_words, before_words = res.contrast_after, res.contrast_before
        weights = [1.0] * n
        # sentence boundaries
        bounds = [0]
        for i, t in enumerate(toks):
            if t in _SENT_END:
                if bounds[-1] == i and i:  # "!!", "...": one sentence end
                    bounds[-1] = i + 1
                else:
                    bounds.append(i + 1)
        bounds.append(n)
        changed = False
        prev_a = None
        for a, b in itertools.pairwise(bounds):
            if a == b:
                continue
            for i in range(a, b):
                t = toks[i]
                is_yet = (
                    t == "yet"
                    and (i == a or toks[i - 1] in _YET_AFTER)
                    and (i + 1 < b and toks[i + 1] not in _YET_BLOCK)
                )
                if (t in after_words or is_yet) and i == a and prev_a is not None:
                    # sentence-initial "But ...": the previous sentence is conceded
                    _concede(weights, range(prev_a, a), range(i + 1, b))
                    changed = True
                    break
                if (t in after_words or is_yet) and i > a:
                    _concede(weights, range(a, i), range(i + 1, b))
                    changed = True
                    break
                if t == "though" and i > a and (i + 1 == b or toks[i + 1] in _SENT_END):
                    # trailing "though": this sentence outweighs the one before
                    _concede(weights, range(prev_a if prev_a is not None else a, a), range(a, i))
                    changed = True
                    break
                if t in before_words or (t == "while" and i == a):
                    # "Although X, Y": X is conceded, Y is the point.
                    comma = next((j for j in range(i + 1, b) if toks[j] == ","), None)
                    if comma is None or comma + 1 >= b:
                        break
                    _concede(weights, range(i + 1, comma), range(comma + 1, b))
                    changed = True
                    break
            prev_a = a
        return weights if changed else None

    def _foreign(self, out: Analysis, toks: list[str], lang: str) -> Analysis:
        """Small-lexicon scoring for es/de/fr/pt/it/nl; flagged as not fully scored."""
        lex = self.res.foreign_words.get(lang, {})
        negs = self.res.foreign_negators.get(lang, frozenset())
        total = 0.0
        hits = 0
        for i, t in enumerate(toks):
            v = lex.get(t) if t[0].isalpha() else self.res.emoji.get(t)
            if not v:
                continue
            if any(toks[j] in negs for j in range(max(0, i - 3), i)):
                v *= NEGATION_SCALAR
            hits += 1
            total += v
            out.explanation.append({"token": t, "i": i, "weight": round(v, 3)})
        if "!" in "".join(toks) and total:
            total += (1 if total > 0 else -1) * min(toks.count("!"), 4) * EXCLAIM_BOOST
        out.score = round(normalize(total), 4)
        out.label = label_for(out.score, self.cfg.neutral_band, self.cfg.strong_threshold)
        out.scored = False
        out.reason = f"non_english:{lang}"
        note = (
            f"scored with a small {lang} lexicon ({hits} hits); English rules not applied"
            if hits
            else f"no {lang} lexicon hits: 'neutral' here means unknown, not neutral"
        )
        out.explanation.append(
            {"rule": "non_english", "weight": 0.0, "language": lang, "note": note}
        )
        out.frustrated = out.score <= self.cfg.frustration_threshold and (toks.count("!") >= 2)
        return out
