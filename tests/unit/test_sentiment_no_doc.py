"""The rules-only scoring path without spaCy Docs (`nlp.sentiment.pipe_fields`) and the topic
lemmas read from the tokenizer's words: the same results as through the Docs."""

from __future__ import annotations

from typing import Any

import pytest
from spacy.language import Language

from nlp import load_pipeline
from nlp.sentiment import pipe_fields, sentiment_fields
from nlp.sentiment.component import SentimentComponent
from nlp.sentiment.tokenizer import TOKENS_KEY, FastTokenizer, words_and_spaces

# Every branch of the tokenizer and the scorer's text handling: single spaces, runs of spaces,
# leading space, newlines and tabs, NBSP, HTML, curly quotes, emoji and emoticons, URLs and
# e-mails, shouting, negation, another language, empty and blank text, a text over max_chars.
TEXTS = [
    "The app is great, thanks!",
    "Terrible  support,   nobody answers.\n\nI want a refund NOW!!!",
    "  leading space and a tab\there",
    "non\u00a0breaking space: not bad at all",
    "<p>The <b>export</b> fails &amp; I'm stuck</p>",
    "I don\u2019t like the new \u2018dashboard\u2019 :( \U0001f621",
    "See https://example.com/x?y=1 or mail help@example.com :)",
    "WHY IS THIS STILL BROKEN AFTER THREE WEEKS",
    "It is not good, not good at all, yeah right /s",
    "Das ist wirklich nicht gut, ich bin sehr entt\u00e4uscht von dem Service",
    "",
    "   ",
    "ok",
    "word " * 20_000,
]


@pytest.fixture(scope="module")
def rules_nlp() -> Language:
    return load_pipeline(sentiment_model="rules")


def test_rules_fields_without_docs_equal_the_docs_fields(rules_nlp: Language) -> None:
    through_docs = [sentiment_fields(doc) for doc in rules_nlp.pipe(TEXTS)]
    without = list(pipe_fields(rules_nlp, TEXTS))
    assert without == through_docs
    assert {f["language"] for f in without} >= {"en", "de", "und"}
    assert any(f["frustrated"] for f in without)


def test_the_fast_path_is_taken_only_for_the_rules_alone(
    rules_nlp: Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = SentimentComponent.rule_fields

    def spy(self: SentimentComponent, nlp: Language, texts: Any) -> Any:
        calls.append("rules")
        return original(self, nlp, texts)

    monkeypatch.setattr(SentimentComponent, "rule_fields", spy)
    list(pipe_fields(rules_nlp, ["fine"]))
    assert calls == ["rules"]
    # another component in the pipeline (the PII masker, spaCy's tokenizer): through the Docs
    pii = load_pipeline(sentiment_model="rules", pii=True)
    texts = ["My name is John Smith and this is awful"]
    fields = list(pipe_fields(pii, texts))
    assert calls == ["rules"]
    assert fields == [sentiment_fields(d) for d in pii.pipe(texts)]


def test_too_long_a_text_fails_as_through_spacy(rules_nlp: Language) -> None:
    rules_nlp.max_length = 10
    try:
        with pytest.raises(ValueError, match="E088"):
            list(pipe_fields(rules_nlp, ["a text longer than ten characters"]))
    finally:
        rules_nlp.max_length = load_pipeline(sentiment_model="rules").max_length


def test_words_and_spaces_are_the_docs_tokens(rules_nlp: Language) -> None:
    tokenizer = rules_nlp.tokenizer
    assert isinstance(tokenizer, FastTokenizer)
    for text in TEXTS:
        doc = tokenizer(text)
        words, spaces = words_and_spaces(text)
        assert list(words) == [t.text for t in doc] == list(doc.user_data[TOKENS_KEY][1])
        assert [bool(s) for s in spaces] == [bool(t.whitespace_) for t in doc]
        assert doc.text == text


def test_topic_lemmas_are_those_of_the_docs_words() -> None:
    from nlp.sentiment.lexattrs import shared_vocab
    from nlp.topics.text import _lemma, lemmas

    tokenizer = FastTokenizer(shared_vocab())
    texts = [*TEXTS, "Refunds for <PERSON> were cancelled twice; orders' data", "Data media does"]
    for text in texts:
        clean = text.replace("<PERSON>", " ")
        words = tokenizer(clean).user_data[TOKENS_KEY][1]
        expected = [lem for lem in map(_lemma, words) if lem]
        assert lemmas(text) == expected
        assert lemmas(text) == expected  # the second time from the cache
    assert lemmas("Refunds were cancelled") == ["refund", "be", "cancel"]
