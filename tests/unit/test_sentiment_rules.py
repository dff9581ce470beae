"""One test per scoring rule for customer-service language, and the fast tokenizer."""

from __future__ import annotations

import pytest
from spacy.language import Language

from nlp import load_pipeline
from nlp.sentiment.scorer import TOKEN_RE, token_regex


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline()


def score(nlp: Language, text: str) -> float:
    return float(nlp(text)._.sentiment)


def rules(nlp: Language, text: str) -> list[dict]:
    return list(nlp(text)._.explanation)


def test_thanks_closing_a_complaint_stays_negative(nlp: Language) -> None:
    text = "I was charged twice and still no refund, thank you."
    assert score(nlp, text) < 0
    assert any(e.get("politeness") for e in rules(nlp, text))


def test_thanks_with_a_fix_is_positive(nlp: Language) -> None:
    assert score(nlp, "Thanks, that fixed it!") > 0.3


def test_thanks_in_advance_is_not_praise(nlp: Language) -> None:
    assert nlp("Can you reset my password? Thanks in advance")._.sentiment_label == "neutral"


def test_yet_after_comma_is_contrast(nlp: Language) -> None:
    assert score(nlp, "The design is nice, yet it crashes every day.") < score(
        nlp, "The design is nice, it crashes every day."
    )


def test_yet_again_is_not_contrast(nlp: Language) -> None:
    assert not any(e.get("rule") == "contrast" for e in rules(nlp, "It failed yet again."))


def test_sentence_initial_while_concedes(nlp: Language) -> None:
    assert score(nlp, "While the app looks good, it is slow and buggy.") < score(
        nlp, "The app looks good, it is slow and buggy."
    )


def test_trailing_though_outweighs_previous_sentence(nlp: Language) -> None:
    assert score(nlp, "Great app. Crashes a lot though.") < score(nlp, "Great app. Crashes a lot.")


def test_but_at_sentence_start(nlp: Language) -> None:
    assert score(nlp, "It was cheap. But it broke after a week.") < score(
        nlp, "It was cheap. It broke after a week."
    )
    assert score(nlp, "Setup was a pain. But it works great now.") > 0


def test_elongated_words_and_boosters(nlp: Language) -> None:
    assert score(nlp, "This is soooo slow") < score(nlp, "This is slow") < 0
    assert score(nlp, "I loooove the new update") > 0.3


def test_repeated_punctuation_emphasises(nlp: Language) -> None:
    assert score(nlp, "Great job!!!") > score(nlp, "Great job") > 0
    assert score(nlp, "Why is this broken???") < 0


def test_emoticons(nlp: Language) -> None:
    assert score(nlp, "Works fine :)") > score(nlp, "Works fine")
    assert score(nlp, "Order arrived late :(") < 0


def test_hashtags(nlp: Language) -> None:
    assert score(nlp, "#fail again with this app") < 0
    assert score(nlp, "#love the new features") > 0


def test_comparatives(nlp: Language) -> None:
    assert score(nlp, "The new version is better than the old one") > 0
    assert score(nlp, "The new version is worse than the old one") < 0
    assert score(nlp, "The support could have been better") < 0
    assert score(nlp, "Well, it is better than nothing") <= 0
    assert score(nlp, "The new app is no better than the old one") < 0


def test_negated_intensifier_is_mild(nlp: Language) -> None:
    mild, flat = score(nlp, "This is not very good"), score(nlp, "This is not good")
    assert flat < mild < 0


def test_no_problem_and_no_worries_are_positive(nlp: Language) -> None:
    assert score(nlp, "No problem, the agent sorted it") > 0
    assert score(nlp, "no worries") > 0
    assert score(nlp, "No problems at all so far") > 0


def test_cant_wait_is_positive(nlp: Language) -> None:
    assert score(nlp, "Can't wait for the next release!") > 0
    assert score(nlp, "can't wait to try it") > 0
    assert score(nlp, "I can't wait any longer for my refund") <= 0


def test_not_bad_is_mildly_positive(nlp: Language) -> None:
    s = score(nlp, "The food was not bad")
    assert 0 < s < score(nlp, "The food was good")


def test_sarcasm_markers(nlp: Language) -> None:
    assert score(nlp, "Yeah right, like that will ever get fixed") < 0
    assert score(nlp, "Best support ever /s") < 0
    assert score(nlp, "Best support ever #sarcasm") < 0
    assert score(nlp, "great... another update that deletes my files") < 0


@pytest.mark.parametrize(
    "text",
    [
        "RT @x at www.example.com :) good",
        "it's don't-care 3rd 10% 2x",
        "hi:) a:)b",
        "email me@x.com now",
        "foo...bar!!",
        "ok ",
        "x",
        "😍😍 <3 </3",
        "www.a.com/b?c=1",
    ],
)
def test_fast_tokenizer_matches_token_regex(nlp: Language, text: str) -> None:
    # the piece cache path must give the regex's tokens on the whole text, twice (warm)
    for _ in range(2):
        doc = nlp.tokenizer(text)
        assert doc.text == text
        assert [t.text for t in doc] == TOKEN_RE.findall(text)
    assert token_regex("see www.example.com") is TOKEN_RE


def test_fast_tokenizer_in_memory_zone(nlp: Language) -> None:
    with nlp.memory_zone():
        doc = nlp("zonewordxyz is great")
        assert [t.text for t in doc] == ["zonewordxyz", "is", "great"]
    assert nlp("zonewordxyz is great")._.sentiment > 0
