"""Loading of the lexicon files in ``nlp/lexicons`` into immutable lookup structures.

Everything here is read once per lexicon directory and cached, so building several
pipelines (tests, CLI, worker processes) does not re-parse the files.
"""

from __future__ import annotations

import hashlib
import json
import re
import re._parser as sre_parse
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

LEXICON_DIR = Path(__file__).resolve().parent.parent / "lexicons"
# The files a lexicon directory holds (what a saved pipeline copies).
LEXICON_FILES = (
    "en_general.tsv",
    "en_support.tsv",
    "emoji.tsv",
    "en_cues.tsv",
    "modifiers.json",
    "langid.json",
)

# Categories of support cues that count as evidence of frustration (the rest only move
# the score): repeat contact, waiting, churn/refund threats, escalation, billing errors.
FRUSTRATION_CATEGORIES = frozenset(
    {"waiting", "repeat_contact", "churn_threat", "escalation", "billing", "unresolved"}
)
# Negative cue categories that mark a question as a complaint rather than a how-to.
COMPLAINT_CATEGORIES = FRUSTRATION_CATEGORIES | {"broken", "sarcasm"}

# Function words are useless as cue triggers: they occur in almost every text, and every
# cue has at least one content word that any match must contain.
_TRIGGER_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "to",
        "of",
        "for",
        "in",
        "on",
        "at",
        "by",
        "with",
        "and",
        "or",
        "but",
        "not",
        "no",
        "do",
        "does",
        "did",
        "don't",
        "doesn't",
        "didn't",
        "has",
        "have",
        "had",
        "haven't",
        "hasn't",
        "can",
        "can't",
        "cannot",
        "will",
        "won't",
        "would",
        "could",
        "couldn't",
        "isn't",
        "aren't",
        "wasn't",
        "this",
        "that",
        "them",
        "him",
        "her",
        "us",
    }
)
_LITERAL = re.compile(r"[a-z0-9']{2,}")
_ESCAPE = re.compile(r"\\[a-zA-Z]")


@dataclass(frozen=True)
class Cue:
    index: int
    pattern: re.Pattern[str]
    valence: float
    category: str
    source: str
    # exact lowercased tokens of which every match contains one (empty: no such gate)
    requires: frozenset[str] = frozenset()
    # literal substrings every match contains: one of each group (derived from the regex)
    gate: tuple[tuple[str, ...], ...] = ()
    # "amplifier": counts only in a text with other negative evidence ("crashed again"
    # vs "will definitely come back again")
    amplifier: bool = False


@dataclass(frozen=True)
class Resources:
    words: dict[str, float]
    emoji: dict[str, float]
    valence: dict[str, float]  # words + lowercased emoji minus modifiers: one lookup/token
    cues: tuple[Cue, ...]
    cue_triggers: dict[str, tuple[int, ...]]
    cue_short_triggers: dict[str, tuple[int, ...]]
    negators: frozenset[str]
    boosters: dict[str, float]
    booster_bigrams: dict[tuple[str, str], float]
    contrast_after: frozenset[str]
    contrast_before: frozenset[str]
    clause_breaks: frozenset[str]
    question_starters: frozenset[str]
    sarcasm_openers: frozenset[str]
    sarcasm_targets: frozenset[str]
    stopwords: dict[str, frozenset[str]]
    ambiguous_stopwords: frozenset[str]
    foreign_words: dict[str, dict[str, float]]
    foreign_negators: dict[str, frozenset[str]]
    source: str = field(default="")
    # the lexicon files' bytes (LEXICON_FILES) and their digest: saved with a pipeline
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    digest: str = ""


def _read_tsv(data: bytes) -> list[list[str]]:
    rows = []
    for line in data.decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def trigger_keys(token: str) -> list[str]:
    """Keys under which the parts of a hyphenated/slashed token can trigger a cue."""
    keys = [token[:5]]
    for part in re.split(r"[-/]", token):
        if part:
            keys.extend((part[:5], part[:4], part[:3]))
    return keys


def _cue_triggers(source: str) -> set[str]:
    """5-char prefixes of the cue's content words: any match contains one of them.

    Shorter literals ("ask", "call") are also stems, so they are indexed as-is and looked
    up by the 3/4-char prefix of text tokens.
    """
    literals = _LITERAL.findall(_ESCAPE.sub(" ", source))
    content = {w for w in literals if w not in _TRIGGER_STOP} or set(literals)
    return {w[:5] for w in content}


_MAX_GATE_GROUPS = 3


def _literal_groups(items: list) -> list[tuple[str, ...]]:
    """Groups of literal strings for a parsed regex sequence: every match of the sequence
    contains at least one string of each group (no group: nothing could be derived)."""
    groups: list[tuple[str, ...]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            groups.append(("".join(run),))
            run.clear()

    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            run.append(chr(av))
            continue
        flush()
        alts: tuple[str, ...] | None = None
        if name == "SUBPATTERN":
            sub = _literal_groups(list(av[3]))
            alts = max(sub, key=_gate_strength) if sub else None
            groups.extend(g for g in sub if g is not alts)
        elif name == "BRANCH":
            collected: list[str] = []
            for branch in av[1]:
                sub = _literal_groups(list(branch))
                if not sub:
                    collected = []
                    break
                collected.extend(max(sub, key=_gate_strength))
            alts = tuple(dict.fromkeys(collected)) if collected else None
        elif name in ("MAX_REPEAT", "MIN_REPEAT") and av[0] >= 1:
            sub = _literal_groups(list(av[2]))
            groups.extend(sub)
        elif name == "IN" and all(str(o) == "LITERAL" for o, _ in av) and len(av) <= 4:
            alts = tuple(chr(c) for _, c in av)
        if alts:
            groups.append(alts)
    flush()
    return groups


def _gate_strength(group: tuple[str, ...]) -> tuple[int, int]:
    # a group is as selective as its shortest string, and fewer strings are better
    return (min(len(s.strip()) for s in group), -len(group))


def literal_gate(source: str) -> tuple[tuple[str, ...], ...]:
    """Substring groups that any match of the cue regex must contain (one of each group).

    Checking them with ``in`` on the text costs a fraction of a regex scan, so the scorer
    runs a cue's regex only on texts that pass its gate.
    """
    try:
        parsed = sre_parse.parse(source)
    except re.error:
        return ()
    groups = [g for g in _literal_groups(list(parsed)) if min(len(s.strip()) for s in g) >= 2]
    groups.sort(key=_gate_strength, reverse=True)
    return tuple(groups[:_MAX_GATE_GROUPS])


_GATE_WORD = re.compile(r"(?<= )[a-z0-9][a-z0-9']*")


def _gate_triggers(source: str) -> set[str] | None:
    """Trigger keys derived from the regex: in each string of a literal group, a word that
    follows a space starts a token of any match, so its prefix can trigger the cue (the
    regex start counts as a space: matches start at a word boundary). The group whose
    words are longest (rarest, roughly) is used; None when no group gives a word for each
    of its strings."""
    try:
        items = list(sre_parse.parse(source))
    except re.error:
        return None
    space = (sre_parse.LITERAL, 32)
    if len(items) == 1 and str(items[0][0]) == "BRANCH":
        op, (x, branches) = items[0]
        items = [(op, (x, [[space, *b] for b in branches]))]
    else:
        items = [space, *items]
    best: tuple[int, set[str]] | None = None
    for group in _literal_groups(items):
        keys: set[str] = set()
        shortest = 99
        for s in group:
            words = [w for w in _GATE_WORD.findall(s) if w not in _TRIGGER_STOP]
            if not words:
                break
            w = max(words, key=len)
            keys.add(w[:5])
            shortest = min(shortest, len(w))
        else:
            if shortest >= 3 and (best is None or shortest > best[0]):
                best = (shortest, keys)
    return best[1] if best else None


def lexicon_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in LEXICON_FILES:
        data = files[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


@lru_cache(maxsize=8)
def load_resources(lexicon_dir: str | None = None) -> Resources:
    base = Path(lexicon_dir) if lexicon_dir else LEXICON_DIR
    return _build({name: (base / name).read_bytes() for name in LEXICON_FILES}, str(base))


_BY_DIGEST: dict[str, Resources] = {}


def resources_from_files(files: dict[str, bytes], source: str) -> Resources:
    """Resources from lexicon file contents (a saved pipeline's copy), one per content."""
    digest = lexicon_digest(files)
    res = _BY_DIGEST.get(digest)
    if res is None:
        if len(_BY_DIGEST) >= 8:
            _BY_DIGEST.clear()
        res = _BY_DIGEST[digest] = _build({n: files[n] for n in LEXICON_FILES}, source)
    return res


def _build(files: dict[str, bytes], source: str) -> Resources:
    words: dict[str, float] = {}
    for row in _read_tsv(files["en_general.tsv"]):
        words[row[0]] = float(row[1])
    for row in _read_tsv(files["en_support.tsv"]):  # domain overrides win
        words[row[0]] = float(row[1])

    emoji = {row[0]: float(row[1]) for row in _read_tsv(files["emoji.tsv"])}

    cues: list[Cue] = []
    triggers: dict[str, list[int]] = {}
    short: dict[str, list[int]] = {}
    for row in _read_tsv(files["en_cues.tsv"]):
        source, valence, category = row[0], float(row[1]), row[2]
        idx = len(cues)
        # right boundary here; the left one is checked by the scorer (see there)
        pattern = re.compile(r"(?:" + source + r")(?![\w'])")
        requires = (
            frozenset(w.strip() for w in row[4].split(",") if w.strip())
            if len(row) > 4
            else frozenset()
        )
        flags = {f.strip() for f in row[5].split(",")} if len(row) > 5 else set()
        cues.append(
            Cue(
                idx,
                pattern,
                valence,
                category,
                source,
                requires,
                literal_gate(source),
                amplifier="amplifier" in flags,
            )
        )
        keys = (
            {w.strip()[:5] for w in row[3].split(",") if w.strip()}
            if len(row) > 3 and row[3].strip()
            else _cue_triggers(source)
        )
        gated = _gate_triggers(source)
        if gated is not None and len(gated) <= len(keys):
            keys = gated  # words every match has as a token, not just any content word
        for key in keys:
            triggers.setdefault(key, []).append(idx)
            if len(key) in (3, 4):
                short.setdefault(key, []).append(idx)

    mods = json.loads(files["modifiers.json"].decode("utf-8"))
    boosters: dict[str, float] = {}
    bigrams: dict[tuple[str, str], float] = {}
    for key, value in mods["boosters"].items():
        parts = key.split()
        if len(parts) == 2:
            bigrams[(parts[0], parts[1])] = float(value)
        else:
            boosters[key] = float(value)

    lang = json.loads(files["langid.json"].decode("utf-8"))
    modifiers = set(mods["negators"]) | set(boosters)
    valence = {w: v for w, v in words.items() if v and w not in modifiers}
    valence.update({k.lower(): v for k, v in emoji.items()})
    return Resources(
        words=words,
        emoji=emoji,
        valence=valence,
        cues=tuple(cues),
        cue_triggers={k: tuple(v) for k, v in triggers.items()},
        cue_short_triggers={k: tuple(v) for k, v in short.items()},
        negators=frozenset(mods["negators"]),
        boosters=boosters,
        booster_bigrams=bigrams,
        contrast_after=frozenset(mods["contrast_after"]),
        contrast_before=frozenset(mods["contrast_before"]),
        clause_breaks=frozenset(mods["clause_breaks"]),
        question_starters=frozenset(mods["question_starters"]),
        sarcasm_openers=frozenset(mods["sarcasm_openers"]),
        sarcasm_targets=frozenset(mods["sarcasm_targets"]),
        stopwords={k: frozenset(v) for k, v in lang["stopwords"].items()},
        ambiguous_stopwords=frozenset(lang.get("ambiguous_with_en", ())),
        foreign_words=lang["lexicons"],
        foreign_negators={k: frozenset(v) for k, v in lang["negators"].items()},
        source=source,
        files=files,
        digest=lexicon_digest(files),
    )
