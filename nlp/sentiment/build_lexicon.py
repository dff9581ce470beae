"""Regenerate ``nlp/lexicons/en_general.tsv`` (a one-off developer step, not run at import).

Sources (both permissively licensed; the output is an adaptation, not a copy):

* VADER lexicon, vaderSentiment 3.3.2 ``vader_lexicon.txt`` (MIT, C.J. Hutto): we keep only
  the word and its mean human valence (-4..4), drop the rating columns and the emoticon
  entries (we ship our own emoticon/emoji table), and expand inflections.
* Pattern adjective lexicon as bundled in TextBlob 0.20 ``en/en-sentiment.xml``
  (PDDL, De Smedt & Daelemans): per-form mean polarity over all senses (as TextBlob
  scores a word), scaled x3 to the VADER range; used only for words VADER does not cover,
  only for words whose most frequent part of speech is an adjective or participle (per the
  Brill tagger lexicon bundled with TextBlob, ``en/en-lexicon.txt``, MIT), and without
  inflections (Pattern lists its forms itself).

Inflections (of VADER words) come from spacy-lookups-data's English lemma table (MIT): a
form inherits its lemma's valence unless it has its own entry. Domain words and overrides
for support language live in ``en_support.tsv`` and are applied at load time, on top of
this file.

Usage: ``python -m nlp.sentiment.build_lexicon``
"""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from importlib import resources
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "lexicons" / "en_general.tsv"
COMMON_OUT = OUT.with_name("en_common_tokens.txt")
N_COMMON = 30_000
_WORD = re.compile(r"^[a-z][a-z'\-]*$")


def _vader() -> dict[str, float]:
    path = resources.files("vaderSentiment") / "vader_lexicon.txt"
    out: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and _WORD.match(parts[0]):
            out[parts[0]] = float(parts[1])
    return out


def _pattern() -> dict[str, float]:
    path = resources.files("textblob") / "en" / "en-sentiment.xml"
    acc: dict[str, list[float]] = defaultdict(list)
    for el in ET.fromstring(path.read_text(encoding="utf-8")).iter("word"):
        form = el.get("form", "").lower()
        if _WORD.match(form):
            acc[form].append(float(el.get("polarity", 0)))
    tags = _brill_tags()
    out = {}
    for form, pols in acc.items():
        # Pattern rates adjective senses only: a word mostly used as another part of
        # speech ("down", "far", "well", "mean", "right") would carry the adjective's
        # polarity into every use, so it is left out (participles, "riveting",
        # "contrived", are mostly adjectival in opinions and stay)
        tag = tags.get(form)
        if tag is not None and not tag.startswith(("JJ", "VBN", "VBG")):
            continue
        # mean over all senses, as Pattern/TextBlob itself scores a word: a descriptive
        # adjective with one evaluative sense ("small", "black", "cold") stays weak
        mean = sum(pols) / len(pols)
        if abs(mean) >= 0.1:  # weak or sense-ambiguous adjectives add noise, not signal
            out[form] = round(mean * 3.0, 2)
    return out


def _brill_tags() -> dict[str, str]:
    """Most frequent Penn tag per word, from the Brill tagger lexicon bundled with TextBlob
    (``en/en-lexicon.txt``, trained on the Brown corpus and the Penn Treebank)."""
    path = resources.files("textblob") / "en" / "en-lexicon.txt"
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        # the lowercase entry: "Cold" (NNP) and "cold" (JJ) are separate entries
        if len(parts) >= 2 and not line.startswith(";") and parts[0].islower():
            out.setdefault(parts[0], parts[1])
    return out


def _lemma_table() -> dict[str, str]:
    path = resources.files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(str(path), "rt", encoding="utf-8") as fh:
        return json.load(fh)


def build() -> dict[str, float]:
    vader = _vader()
    lex = _pattern()
    lex.update(vader)  # human-rated valence wins over the inferred adjective polarity
    by_lemma: dict[str, list[str]] = defaultdict(list)
    for form, lemma in _lemma_table().items():
        if form.islower() and _WORD.match(form):
            by_lemma[lemma].append(form)
    # Inflections only of the human-rated VADER words: Pattern lists its adjective forms
    # itself, and a form of a Pattern adjective is often another part of speech with
    # another meaning ("based" is not "base", "means" is not "mean").
    for lemma, value in vader.items():
        for form in by_lemma.get(lemma, ()):
            lex.setdefault(form, value)
    return dict(sorted(lex.items()))


def common_tokens(n: int = N_COMMON) -> list[str]:
    """The ``n`` most frequent English token strings (cased, as a tokenizer sees them) from
    spacy-lookups-data's ``en_lexeme_prob`` table, used to pre-fill the pipeline vocab."""
    path = resources.files("spacy_lookups_data") / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(str(path), "rt", encoding="utf-8") as fh:
        probs: dict[str, float] = json.load(fh)
    ranked = sorted(
        (w for w in probs if w and not any(c.isspace() for c in w)), key=lambda w: (-probs[w], w)
    )
    return ranked[:n]


def main() -> None:
    words = common_tokens()
    COMMON_OUT.write_text(
        "# The most frequent English token strings, one a line, generated by\n"
        "# nlp/sentiment/build_lexicon.py from spacy-lookups-data's en_lexeme_prob table (MIT).\n"
        "# Only used to create their spaCy lexemes once per process (see lexattrs.py).\n"
        + "".join(w + "\n" for w in words),
        encoding="utf-8",
    )
    print(f"wrote {len(words)} tokens to {COMMON_OUT}")
    lex = build()
    header = (
        "# English general-purpose valence lexicon (-4..4), generated by\n"
        "# nlp/sentiment/build_lexicon.py. Adapted from the VADER lexicon (vaderSentiment 3.3.2,\n"
        "# MIT, C.J. Hutto) and the Pattern adjective lexicon (TextBlob 0.20 en-sentiment.xml,\n"
        "# PDDL, De Smedt & Daelemans; mean polarity over all senses), inflections of the VADER\n"
        "# words via spacy-lookups-data's lemma table (MIT). See the script docstring.\n"
    )
    body = "".join(f"{w}\t{v:g}\n" for w, v in lex.items())
    OUT.write_text(header + body, encoding="utf-8")
    print(f"wrote {len(lex)} entries to {OUT}")


if __name__ == "__main__":
    main()
