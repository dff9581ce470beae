"""The spaCy component `feedback_pii_masker_v1` on a blank English pipeline."""

from __future__ import annotations

import pickle

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc

import nlp.pii_masker  # noqa: F401  (registers the factory until the entry point is installed)
from nlp.pii import find_pii

TEXTS = [
    "Card 4111 1111 1111 1111 declined, call (415) 555-0123.",
    "Mail ann@example.com from 10.0.0.1 about order #A-1029384",
    "IBAN DE89 3704 0044 0532 0130 00, SSN 219-09-9999.",
    "Nothing personal in v2.14.3 released 2024-03-15 for $1,299.00",
]


@pytest.fixture(scope="module")
def pipeline() -> Language:
    nlp_ = spacy.blank("en")
    nlp_.add_pipe("feedback_pii_masker_v1")
    return nlp_


def expected(text: str) -> list[dict[str, object]]:
    return [{"type": e.type, "start": e.start, "end": e.end} for e in find_pii(text)]


def test_factory_is_registered_with_its_default_config(pipeline: Language) -> None:
    assert "feedback_pii_masker_v1" in pipeline.pipe_names
    assert pipeline.get_pipe_config("feedback_pii_masker_v1")["spans_key"] == "pii"


def test_extensions_hold_entities_and_masked_text(pipeline: Language) -> None:
    doc = pipeline(TEXTS[0])
    assert doc._.pii_entities == [
        {"type": "CREDIT_CARD", "start": 5, "end": 24},
        {"type": "PHONE_NUMBER", "start": 40, "end": 54},
    ]
    assert doc._.masked_text == "Card <CREDIT_CARD> declined, call <PHONE_NUMBER>."
    assert doc.text == TEXTS[0]  # the Doc itself is not rewritten


def test_spans_cover_the_entities_with_type_labels(pipeline: Language) -> None:
    doc = pipeline(TEXTS[1])
    spans = doc.spans["pii"]
    assert [(s.label_, s.text) for s in spans] == [
        ("EMAIL_ADDRESS", "ann@example.com"),
        ("IP_ADDRESS", "10.0.0.1"),
    ]
    for span, ent in zip(spans, doc._.pii_entities, strict=True):
        assert span.start_char <= ent["start"] and span.end_char >= ent["end"]


def test_spans_expand_to_token_boundaries() -> None:
    nlp_ = spacy.blank("en")
    nlp_.add_pipe("feedback_pii_masker_v1", config={"spans_key": "sensitive"})
    # The blank tokenizer keeps "ssn:219-09-9999" as one token: the span must widen to it
    # rather than be dropped, so that masking by span never leaks.
    doc = nlp_("my ssn:219-09-9999 ok")
    ent = doc._.pii_entities[0]
    assert doc.text[ent["start"] : ent["end"]] == "219-09-9999"
    (span,) = doc.spans["sensitive"]
    assert span.label_ == "US_SSN"
    assert "219-09-9999" in span.text
    assert "pii" not in doc.spans


def test_no_pii_gives_empty_results(pipeline: Language) -> None:
    doc = pipeline(TEXTS[3])
    assert doc._.pii_entities == []
    assert list(doc.spans["pii"]) == []
    assert doc._.masked_text == TEXTS[3]


def test_masked_text_without_the_component_still_masks() -> None:
    doc = spacy.blank("en")("reach me at ann@example.com")
    assert doc._.pii_entities is None
    assert doc._.masked_text == "reach me at <EMAIL_ADDRESS>"


def test_docs_survive_bytes_and_pickle(pipeline: Language) -> None:
    doc = pipeline(TEXTS[2])
    again = Doc(pipeline.vocab).from_bytes(doc.to_bytes())
    unpickled = pickle.loads(pickle.dumps(doc))
    for copy in (again, unpickled):
        assert copy._.pii_entities == expected(TEXTS[2])
        assert copy._.masked_text == "IBAN <IBAN_CODE>, SSN <US_SSN>."
        assert [s.label_ for s in copy.spans["pii"]] == ["IBAN_CODE", "US_SSN"]


def test_pipe_with_two_processes_matches_one_process(pipeline: Language) -> None:
    texts = TEXTS * 5
    docs = list(pipeline.pipe(texts, n_process=2, batch_size=4))
    assert [d.text for d in docs] == texts
    assert [d._.pii_entities for d in docs] == [expected(t) for t in texts]
    assert [d._.masked_text for d in docs] == [pipeline(t)._.masked_text for t in texts]
    assert [[s.label_ for s in d.spans["pii"]] for d in docs] == [
        [e["type"] for e in expected(t)] for t in texts
    ]
