"""PERSON masking: names in greetings, sign-offs, self-introductions, speaker labels and
running text are masked; look-alikes stay; recall and false masks on the seeded name set;
the gazetteer comes from Faker; the spaCy component agrees with the library."""

from __future__ import annotations

import pytest
import spacy

import nlp.pii_masker  # noqa: F401  (registers the factory until the entry point is installed)
from demo.person_names import ORIGINS, build_lookalikes, build_name_set
from nlp.pii import PERSON, find_pii, mask
from nlp.pii.names import gazetteer

NAMED = [
    # (text, the names in it)
    ("Thanks, Liam Miller", ["Liam Miller"]),
    ("Hi Sam,\nthe export fails again.", ["Sam"]),
    ("The sync is stuck.\n\nCheers,\nÉlodie", ["Élodie"]),
    ("Élodie", ["Élodie"]),
    ("my name is Chinedu Okafor and I need a refund", ["Chinedu Okafor"]),
    ("Hello, I'm Aarav from the Pune office.", ["Aarav"]),
    ("Dear Mr. Okonkwo, your invoice is attached.", ["Okonkwo"]),
    ("Call notes\nRep: Liam Miller\nCustomer: wants annual billing", ["Liam Miller"]),
    ("Liam: we can offer 10%\nPriya: send it over", ["Liam", "Priya"]),
    ("Spoke with Zhang Wei about the renewal.", ["Zhang Wei"]),
    ("Kind regards,\nMuhammad Farooq\nOperations lead", ["Muhammad Farooq"]),
    ("Viele Grüße\nJürgen Müller", ["Jürgen Müller"]),
    ("Hola de nuevo, Rodrigo:", ["Rodrigo"]),
    ("<p>Thanks,<br>Ryan</p>", ["Ryan"]),
    ("Priya was super helpful!", ["Priya"]),
    ("Follow up with Omar at the end of the week.", ["Omar"]),
    ("Escalated by Nguyễn Minh Anh on Monday.", ["Nguyễn Minh Anh"]),
    ("Hi Xochitl,\nthe app keeps crashing.", ["Xochitl"]),  # in no list: the greeting decides
]

LOOKALIKES = [
    "Will this be fixed by Friday?",
    "May I get a refund? I ordered in May and again in June.",
    "Paid with Apple Pay, still shows unpaid.",
    "Hi team, the export is broken.",
    "Thanks, support!",
    "Dear customer, your ticket was updated.",
    "Hello everyone, quick question about billing.",
    "Ship it to 12 Victoria Street, please.",
    "Our store on Martin Luther King Jr Blvd is closed.",
    "Hi Acme Support,\nthe invoice is wrong.",
    "Thanks, FieldPro team!",
    "Best,\nThe FieldPro team",
    "We moved from Salesforce to Microsoft Teams last year.",
    "Thanks. Will this be fixed?",
    "Hope it helps. Grace period ends in April.",
    "Note: the customer wants a call back.",
    "I am very unhappy with the delay.",
    "My name is on the invoice but the address is wrong.",
    "file name: Report",
    "Server ::ffff:10.1.2.3 returned 502",
]


def persons(text: str) -> list[str]:
    return [text[e.start : e.end] for e in find_pii(text) if e.type == PERSON]


@pytest.mark.parametrize(("text", "names"), NAMED)
def test_names_in_context_are_masked(text: str, names: list[str]) -> None:
    assert persons(text) == names
    masked = mask(text)
    assert "<PERSON>" in masked and not any(n in masked for n in names), masked


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_stay(text: str) -> None:
    assert find_pii(text) == [] or persons(text) == [], persons(text)
    assert "<PERSON>" not in mask(text)


def test_names_and_other_types_together() -> None:
    text = "Hi Sam, my card 4111 1111 1111 1111 was charged twice.\nThanks, Priya Sharma"
    assert mask(text) == ("Hi <PERSON>, my card <CREDIT_CARD> was charged twice.\nThanks, <PERSON>")
    assert persons(text.replace("Sam", "team")) == ["Priya Sharma"]


def _covered(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    pos = start
    for s, e in sorted(spans):
        if s <= pos < e:
            pos = e
    return pos >= end


def _recall_and_false_spans(samples: list) -> tuple[float, int]:
    found = total = false_spans = 0
    for sample in samples:
        spans = [(e.start, e.end) for e in find_pii(sample.text) if e.type == PERSON]
        for s, e in sample.names:
            total += 1
            found += _covered(s, e, spans)
        false_spans += sum(not any(s < ne and ns < e for ns, ne in sample.names) for s, e in spans)
    return found / total, false_spans


def test_recall_floor_on_the_seeded_name_set() -> None:
    samples = build_name_set(800, seed=3)
    assert {s.origin for s in samples} == set(ORIGINS)
    recall, false_spans = _recall_and_false_spans(samples)
    assert recall >= 0.97, recall  # measured 0.997 (benchmarks/pii_bench.py)
    assert false_spans <= 4, false_spans


def test_context_alone_finds_most_names_in_no_list() -> None:
    samples = build_name_set(800, seed=4, unknown=True)
    known = gazetteer().known
    assert all(
        w.casefold() not in known for s in samples for a, b in s.names for w in s.text[a:b].split()
    )
    recall, false_spans = _recall_and_false_spans(samples)
    assert recall >= 0.5, recall  # greetings and sign-offs carry it; measured ~0.6
    assert false_spans == 0


def test_false_mask_ceiling_on_lookalikes() -> None:
    samples = build_lookalikes(600, seed=5)
    masked = [s.text for s in samples if find_pii(s.text)]
    assert len(masked) / len(samples) <= 0.02, masked[:10]


def test_gazetteer_is_faker_data_of_many_origins() -> None:
    gaz = gazetteer()
    assert len(gaz.locales) >= 40 and {"en_IN", "yo_NG", "zh_CN", "fr_FR"} <= set(gaz.locales)
    assert len(gaz.given) > 20_000 and len(gaz.surnames) > 20_000
    for given in ("liam", "élodie", "chinedu", "aarav", "wei", "muhammad", "jürgen"):
        assert given in gaz.given, given
    assert gaz.known == gaz.given | gaz.surnames


def test_spacy_component_masks_names_like_the_library() -> None:
    nlp_ = spacy.blank("en")
    nlp_.add_pipe("feedback_pii_masker_v1")
    text = "Hi Sam,\nplease refund 4111 1111 1111 1111.\n\nThanks,\nPriya Sharma"
    doc = nlp_(text)
    assert doc._.masked_text == mask(text)
    assert [s.label_ for s in doc.spans["pii"]] == [PERSON, "CREDIT_CARD", PERSON]
