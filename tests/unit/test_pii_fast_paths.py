"""The masker's fast paths mask exactly as the full path does, on a corpus: the demo
generator's texts, the seeded name sets, and the shared data sets when present
(../shared/data).

- The two person-name patterns rewritten for speed (`_CAP_RUN` with its capital first,
  `_LINE_NAME` with atomic words) find the same matches as their first formulation, kept here
  as the reference; the cues found through `_CUE_STARTS` are `_CUES.finditer`'s, one by one.
- `MaskCache` (a run's texts masked once each) returns what `mask_text` returns, however often
  a text comes back, and stays within its budget.
- Within a sync run (`text_cache`) the run's threads share one cache; outside a run nothing is
  cached, and `clear_caches` (an erasure) empties the caches of runs still going.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Iterable

import pytest
from support.clock import NOW

from demo.generator import generate
from demo.person_names import build_lookalikes, build_name_set
from feedbackloop.governance import fields
from nlp.evaluation import load_shared_sentiment
from nlp.pii import MaskCache, mask_text
from nlp.pii import masking as m
from nlp.topics.datasets import DEFAULT_INTENTS_ROOT, load_intent_sets

# The patterns as first written (before the speed rewrite), from the same fragments.
REFERENCE_CAP_RUN = re.compile(
    rf"(?<![\w'’\-]){m._CAP_TOK}(?:(?:[ \t\u00a0]{{1,2}}(?:(?:{'|'.join(sorted(m._PARTICLES))})"
    rf"[ \t\u00a0]+)?{m._CAP_TOK})+(?![\w'’])|(?P<verb>(?=[ \t]+(?:was|is|has|had|helped|fixed"
    r"|solved|resolved|answered|replied|said|asked|told|called|emailed|mentioned|confirmed"
    r"|explained|agreed|wants|needs|loved|liked|from)(?![\w'’]))))"
)
REFERENCE_LINE_NAME = re.compile(
    rf"^[ \t]*(?P<dash>[-–—~][ \t]*)?(?P<seq>{m._TOK}(?:[ \t]{{1,2}}{m._TOK}){{0,3}})"
    r"(?:(?P<end>:)(?!:)|[ \t]*$)",
    re.MULTILINE,
)

# Every kind of cue, in each language the cue pattern knows, before a name and alone.
CUES = [
    "hi Sam", "hello again, Sam", "hey Sam", "hiya Sam", "dear Ms. Okafor", "greetings Sam",
    "good morning Sam", "good  evening\nSam", "hola de nuevo, Rodrigo:", "buenos días Ana",
    "bonjour Claire", "salut Luc", "hallo Jan", "guten Tag Jan", "guten morgen Jan", "moin Jan",
    "ciao Gia", "olá Ana", "ola Ana", "oi Bia", "bom dia Ana", "namaste Aarav", "salaam Ali",
    "salam Ali", "thanks again, Liam", "thanks so much Liam!", "thanks a lot, Liam",
    "thank you so much,\nLiam", "thx Liam", "many thanks, Liam", "cheers,\nSam",
    "best regards,\nSam", "kind regards, Sam", "warm regards\nSam", "warmest regards, Sam",
    "regards,<br>Sam", "best wishes, Sam", "Best,\nSam", "sincerely,\nSam", "yours truly,\nSam",
    "yours sincerely, Sam", "yours,\nSam", "saludos, Ana", "un saludo, Ana", "gracias, Ana",
    "merci, Luc", "cordialement,\nLuc", "bonne journée, Luc", "viele Grüße\nJürgen",
    "beste Grüsse, Jan", "liebe Grüße, Jan", "freundliche Grüße\nJan", "grüße, Jan",
    "gruesse Jan", "mfg\nJan", "danke, Jan", "abraço,\nJoão", "abraco, João",
    "atenciosamente,\nAna", "obrigado, Bia", "obrigada, Bia", "my name is sam okafor",
    "my name's Sam", "name: Sam", "file name: Report", "je m'appelle Luc", "me llamo Ana",
    "mi nombre es Ana", "mein Name ist Jan", "ich heiße Jan", "ich heisse Jan",
    "meu nome é Ana", "signed: Xi", "call with Omar", "meeting with Omar", "chat with Omar",
    "check-in with Omar", "spoke with Omar", "talked with Omar", "met with Omar",
    "follow up with Omar", "followed up with Omar", "sync with Omar", "catch up with Omar",
    "touch base with Omar", "i am Sam.", "I'm Nudo from Acme", "i’m Sam", "this is Xeti speaking",
    "it's Sam", "it’s Sam here", "je suis Luc", "soy Ana", "ich bin Jan", "sou Ana",
    "Mr. Okafor", "mrs Okafor", "ms Okafor", "miss Okafor", "mx Okafor", "Dr. Okafor",
    "prof. Okafor", "sra. Ana", "srta Ana", "herr Jan", "frau Jana", "mme Claire",
    "mlle Claire", "Rep: Liam Miller", "  agent - Liam", "customer: Omar", "client – Omar",
    "caller: Omar", "prospect: Omar", "attendee: Omar", "attendees: Omar, Liam",
    "participant: Omar", "participants: Omar", "contact: Omar", "host: Omar", "AE: Omar",
    "CSM: Omar", "SDR: Omar", "champion: Omar", "buyer: Omar", "speaker: Omar",
    "hi", "thanks", "hi_there Sam", "'hi Sam", "this\nis Sam", "hithere Sam", "thanksgiving Sam",
]  # fmt: skip

# Shapes the rewrites must not change: backtracking at word, space and colon edges, a name
# at the very start, hyphens and apostrophes, a capital right after a word or an apostrophe.
EDGES = [
    "Liam::",
    "Liam  :",
    "Liam   Miller:",
    "A B C D E:",
    "Liam Miller Smith Jones Brown",
    "— Jean-Luc O'Brien",
    "~Xeti",
    "Smith-Jones'",
    "McDonald O’Neil said hi",
    "x'Yvonne Moreau",
    "Priya was great",
    "über Ägypten Öl",
    "Anna\u00a0Maria da Silva",
    "Liam:\r\nPriya:",
    "",
    "\n\n",
]


def _corpus() -> list[str]:
    dataset = generate(seed=5, tickets=200, now=NOW)
    texts = [t for ticket in dataset.tickets for t in (ticket.subject, ticket.description)]
    texts += [c.body for c in dataset.comments]
    texts += [r.comment for r in dataset.satisfaction_ratings if r.comment]
    texts += [t for review in dataset.reviews for t in (review.title, review.body)]
    texts += [note.text for note in dataset.notes]
    texts += [s.text for s in build_name_set(1000)] + [s.text for s in build_lookalikes(500)]
    texts += [s.text for s in build_name_set(500, unknown=True)]
    # Case and line-break variants: they move which rules fire.
    texts += [v for t in texts[::5] for v in (t.upper(), t.title(), t.replace(" ", "\n"))]
    return texts + EDGES


def _shared() -> list[str]:
    texts = [t for sentences, _ in load_shared_sentiment().values() for t in sentences]
    if DEFAULT_INTENTS_ROOT.is_dir():
        texts += [
            t for sentences, _ in load_intent_sets(DEFAULT_INTENTS_ROOT).values() for t in sentences
        ]
    return texts


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], dict]]:
    return [(found.span(), found.groupdict()) for found in pattern.finditer(text)]


def _cue_matches(found: Iterable[re.Match[str]]) -> list[tuple[tuple[int, int], str | None]]:
    return [(cue.span(), cue.lastgroup) for cue in found]


def _assert_same_matches(texts: list[str]) -> None:
    for text in texts:
        assert _matches(m._CAP_RUN, text) == _matches(REFERENCE_CAP_RUN, text), text
        assert _matches(m._LINE_NAME, text) == _matches(REFERENCE_LINE_NAME, text), text
        lowered = text.lower()
        assert _cue_matches(m._cues(lowered)) == _cue_matches(m._CUES.finditer(lowered)), text


def test_every_cue_is_found_through_the_fast_start_as_through_the_cue_pattern() -> None:
    texts = CUES + [f"Ok.\n{c}" for c in CUES] + [f"x{c}" for c in CUES] + [" ".join(CUES)]
    _assert_same_matches(texts)
    kinds = {cue.lastgroup for t in CUES for cue in m._cues(t.lower())}
    assert kinds == {"greet", "sign", "intro", "with", "weak", "honor", "label"}


def test_rewritten_name_patterns_match_their_reference_on_the_demo_corpus() -> None:
    texts = _corpus()
    _assert_same_matches(texts)
    # The corpus exercises both patterns, names and non-names.
    assert sum(1 for t in texts if m._CAP_RUN.search(t)) > 500
    assert sum(1 for t in texts if m._LINE_NAME.search(t)) > 500


def test_rewritten_name_patterns_match_their_reference_on_the_shared_data() -> None:
    texts = _shared()
    if not texts:
        pytest.skip("shared data not available (../shared/data)")
    _assert_same_matches(texts)


def test_the_cache_masks_as_mask_text_however_often_a_text_comes_back() -> None:
    texts = _corpus()
    cache = MaskCache()
    for _ in range(2):  # the second pass is answered from the cache
        for text in texts:
            assert cache.mask_text(text) == mask_text(text), text
    assert len(cache) == len(set(texts))
    found = [cache.mask_text(t) for t in texts]
    assert any(r.entities for r in found) and any(not r.entities for r in found)


def test_the_cache_stays_within_its_budget_dropping_the_oldest_first() -> None:
    cache = MaskCache(max_chars=30)
    first, second, third = "Thanks, Liam", "Hi Priya,\nok", "Cheers,\nSam Lee"
    for text in (first, second, third):
        cache.mask_text(text)
    assert len(cache) == 2  # 12 + 12 + 15 chars: the first went to make room
    assert cache.mask_text(first) == mask_text(first)
    cache.mask_text("x" * 31)  # longer than the whole budget: answered, not kept
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_texts_are_cached_only_within_a_run_and_its_threads_share_it() -> None:
    text = "Thanks,\nLiam Miller"
    assert fields.masked_text(text) == mask_text(text)
    assert fields._RUN_TEXTS.get() is None  # outside a run: nothing kept
    seen: list[MaskCache | None] = []
    with fields.text_cache():
        cache = fields._RUN_TEXTS.get()
        assert cache is not None
        assert fields.masked_text(text) == mask_text(text) and len(cache) == 1
        # The page walk runs in a copy of the run's context, as `sync_stream` starts it.
        context = contextvars.copy_context()
        worker = threading.Thread(
            target=context.run, args=(lambda: seen.append(fields._RUN_TEXTS.get()),)
        )
        worker.start()
        worker.join()
        assert seen == [cache]
        fields.clear_caches()  # an erasure while the run goes on
        assert len(cache) == 0
    assert fields._RUN_TEXTS.get() is None and len(cache) == 0
