"""Content words of a text without spaCy, for the light encoder's bag of words.

Importing spaCy imports thinc, which imports torch whenever torch is installed (it is, with the
embeddings extra), and the light encoder must not need a deep-learning framework. So: a regex
tokenizer, spaCy's English stop words copied here (MIT) plus a few greeting words, and a plural
folding that is enough to match "orders" with "order" (the embedding half covers the rest).
"""

from __future__ import annotations

import re

# Masked personal data (`<EMAIL_ADDRESS>`, `<PHONE_NUMBER>`...) says nothing about the topic and
# would otherwise become a "key phrase" of every cluster.
PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*>")
_TOKEN = re.compile(r"[a-z][a-z0-9'-]*")
_STOP = """
    'd 'll 'm 're 's 've a about above across after afterwards again against all almost alone
    along already also although always am among amongst amount an and another any anyhow
    anyone anything anyway anywhere are around as at back be became because become becomes
    becoming been before beforehand behind being below beside besides between beyond both
    bottom but by ca call can cannot could did do does doing done down due during each eight
    either eleven else elsewhere empty enough even ever every everyone everything everywhere
    except few fifteen fifty first five for former formerly forty four from front full further
    get give go had has have he hence her here hereafter hereby herein hereupon hers herself
    him himself his how however hundred i if in indeed into is it its itself just keep last
    latter latterly least less made make many may me meanwhile might mine more moreover most
    mostly move much must my myself n't name namely neither never nevertheless next nine no
    nobody none noone nor not nothing now nowhere of off often on once one only onto or other
    others otherwise our ours ourselves out over own part per perhaps please put quite rather
    re really regarding same say see seem seemed seeming seems serious several she should show
    side since six sixty so some somehow someone something sometime sometimes somewhere still
    such take ten than that the their them themselves then thence there thereafter thereby
    therefore therein thereupon these they third this those though three through throughout
    thru thus to together too top toward towards twelve twenty two under unless until up upon
    us used using various very via was we well were what whatever when whence whenever where
    whereafter whereas whereby wherein whereupon wherever whether which while whither who
    whoever whole whom whose why will with within without would yet you your yours yourself
    yourselves
    pls thank thanks hi hello hey want need help like know tell let way ok okay
    don doesn didn isn aren wasn weren won can couldn shouldn wouldn haven hasn"""
STOP_WORDS = frozenset(_STOP.split())

# light-v3's word half, chosen on the tune halves of the shared intent sets (docs/decisions.md):
# 83 generic action verbs weighted x2 (x1.5 and x2.5 did no better), and the verbs among the
# stop words kept as content words.
KEPT_VERBS = frozenset({"get", "make", "give", "take", "call", "show", "move", "keep"})
_ACTIONS = """
    create delete cancel change edit switch track check get set update add remove
    open close recover reset send receive pay buy return register sign subscribe unsubscribe
    complain review contact place modify restore transfer book find report lock unlock activate
    increase decrease raise lower improve reduce schedule request share play stop start pause
    skip order replace renew repeat remind save spend apply freeze block enable disable install
    download upload print rent sell call turn confirm accept reject approve delay extend compare
    calculate convert translate"""
ACTION_VERBS = frozenset(_ACTIONS.split())
ACTION_WEIGHT = 2.0


def _fold(word: str) -> str:
    word = word.split("'", 1)[0]  # i'd -> i, order's -> order, don't -> don (a stop word)
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word


def content_words(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """Lower-cased content words in order: no stop words (except those in ``keep``), numbers
    or one-letter words."""
    if "<" in text:
        text = PLACEHOLDER.sub(" ", text)
    words = (_fold(w) for w in _TOKEN.findall(text.lower()))
    return [w for w in words if len(w) > 1 and (w not in STOP_WORDS or w in keep)]


def word_weights(text: str) -> dict[str, float]:
    """The light encoder's bag of words (light-v3): content words plus the generic verbs among
    the stop words, action verbs weighted ACTION_WEIGHT. Intents that share a sentence template
    differ by their verb ("create" / "delete account"), which the token mean barely sees."""
    return {
        w: ACTION_WEIGHT if w in ACTION_VERBS else 1.0 for w in content_words(text, keep=KEPT_VERBS)
    }
