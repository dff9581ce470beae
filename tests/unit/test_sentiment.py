"""Unit tests for the sentiment/frustration component (nlp.sentiment, nlp.pipeline)."""

from __future__ import annotations

import pickle

import pytest
from sentiment_support import EXTENSIONS, score
from spacy.language import Language

from nlp import load_pipeline
from nlp.sentiment import LABELS


def test_extensions_set_on_every_doc(nlp: Language) -> None:
    for doc in nlp.pipe(["great app", "", "how do I export?", "😡😡", "1234"]):
        for ext in EXTENSIONS:
            assert doc.has_extension(ext)
        assert -1.0 <= doc._.sentiment <= 1.0
        assert doc._.sentiment_label in LABELS
        assert isinstance(doc._.frustrated, bool)
        assert isinstance(doc._.explanation, list)
        assert doc._.sentiment_model_version == "rules-v3"
        assert doc._.sentiment_result is not None


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("I am still waiting for my order.", -1),
        ("You charged me twice this month.", -1),
        ("Please cancel my account.", -1),
        ("This is the third time I'm asking about this.", -1),
        ("My delivery was delayed.", -1),
        ("The package got lost.", -1),
        ("No response from support.", -1),
        ("I want a refund.", -1),
        ("Still not fixed.", -1),
        ("The app crashed again", -1),
        ("What a waste of time", -1),
        ("This is unacceptable", -1),
        ("I need to escalate this", -1),
        ("How many times do I have to explain this", -1),
        ("Nobody has answered my emails", -1),
        ("I'm switching to Zendesk.", -1),
        ("I will file a chargeback", -1),
        ("The export doesn't work", -1),
        ("It stopped working after the update", -1),
        ("Been waiting for two weeks", -1),
        ("Great, another outage.", -1),
        ("The app is terrible 😡", -1),
        ("the app is slow :(", -1),
        ("Love it!", 1),
        ("Thanks so much for the quick fix, works perfectly", 1),
        ("Support was very helpful 👍", 1),
        ("Problem solved, thank you", 1),
        ("Easy to use and reliable :)", 1),
        ("I'd highly recommend this app", 1),
    ],
)
def test_cue_direction(nlp: Language, text: str, direction: int) -> None:
    s = score(nlp, text)
    assert s * direction > 0.05, (text, s, nlp(text)._.explanation)


def test_negation_flips(nlp: Language) -> None:
    assert score(nlp, "The new dashboard is good") > 0.05
    assert score(nlp, "The new dashboard is not good") < -0.05
    assert score(nlp, "The agent was never helpful") < 0
    assert score(nlp, "Installing it was not bad at all") > 0
    assert score(nlp, "It works without any problems") > 0


def test_intensifiers_and_diminishers(nlp: Language) -> None:
    base = score(nlp, "The service is good")
    assert score(nlp, "The service is extremely good") > base
    assert score(nlp, "The service is somewhat good") < base
    assert score(nlp, "The service is GOOD") > base
    assert score(nlp, "The service is good!!!") > base


def test_contrast_weights_second_clause(nlp: Language) -> None:
    assert score(nlp, "The app looks nice, but it is slow and buggy") < 0
    assert score(nlp, "The app is slow, but the support team was fantastic") > 0
    assert score(nlp, "Although the design is nice, the app keeps crashing") < 0


def test_complaint_question_is_not_neutral(nlp: Language) -> None:
    assert score(nlp, "Why do you keep charging me after I cancelled?") < -0.05
    assert score(nlp, "Why is the app so slow?") < -0.05


def test_explanation_names_tokens_and_rules(nlp: Language) -> None:
    doc = nlp("The update is terrible and I was charged twice!!")
    tokens = {e.get("token") for e in doc._.explanation}
    rules = {e.get("rule") for e in doc._.explanation}
    assert "terrible" in tokens
    assert "cue:billing" in rules
    assert all("weight" in e for e in doc._.explanation)
    negative = [e for e in doc._.explanation if e.get("token") == "terrible"]
    assert negative[0]["weight"] < 0


def test_frustration(nlp: Language) -> None:
    angry = nlp("This is the THIRD time I'm asking. Still waiting for my refund!!! Unacceptable.")
    assert angry._.frustrated
    assert angry._.sentiment_label == "very_negative"
    assert not nlp("The font is slightly ugly.")._.frustrated
    assert not nlp("Love the new feature!")._.frustrated
    assert nlp("I HAVE BEEN WAITING FOR TWO WEEKS, THIS IS RIDICULOUS")._.frustrated


def test_html_stripped(nlp: Language) -> None:
    doc = nlp("<p>The <b>export</b> is <i>broken</i></p><br/>")
    assert doc.text.startswith("<p>")  # doc text is untouched...
    assert doc._.sentiment < 0  # ...but tags are not scored as tokens
    assert all("<" not in str(e.get("token", "")) for e in doc._.explanation)
    assert nlp("How do I &amp; my team export?")._.sentiment_label == "neutral"


def test_deterministic(nlp: Language) -> None:
    text = "Great, another outage. Still waiting for a fix!"
    first = nlp(text)
    for _ in range(3):
        again = load_pipeline(sentiment_model="rules")(text)
        assert again._.sentiment == first._.sentiment
        assert again._.explanation == first._.explanation


def test_edge_inputs_do_not_crash(nlp: Language) -> None:
    assert nlp("")._.sentiment_label == "neutral"
    assert nlp("   \n\t ")._.sentiment == 0.0
    assert nlp("😍😍😍")._.sentiment > 0.05
    assert nlp("😡")._.sentiment < -0.05
    assert nlp("...!!!???")._.sentiment_label == "neutral"
    big = ("The checkout page is broken and support never answers. " * 20000)[:1_000_000]
    doc = nlp(big)
    assert doc.text == big
    assert doc._.sentiment < 0
    assert any(e.get("rule") == "truncated" for e in doc._.explanation)


@pytest.mark.parametrize(
    ("text", "lang", "direction"),
    [
        ("El producto es muy malo y todavía no tengo mi reembolso", "es", -1),
        ("Das ist ein sehr gutes Produkt, ich bin sehr zufrieden", "de", 1),
        ("Je suis très déçu, le produit ne fonctionne pas", "fr", -1),
        ("O atendimento foi péssimo e ainda não recebi nada", "pt", -1),
    ],
)
def test_non_english_flagged(nlp: Language, text: str, lang: str, direction: int) -> None:
    doc = nlp(text)
    assert doc._.language == lang
    assert doc._.scored is False
    assert doc._.sentiment_reason.startswith("non_english")
    assert any(e.get("rule") == "non_english" for e in doc._.explanation)
    assert doc._.sentiment * direction > 0


def test_non_english_without_hits_is_flagged_not_silently_neutral(nlp: Language) -> None:
    doc = nlp("Hoe kan ik mijn wachtwoord wijzigen in de app van het bedrijf")
    assert doc._.language == "nl"
    assert doc._.scored is False
    assert "unknown" in doc._.explanation[-1]["note"] or doc._.sentiment != 0


def test_english_detected(nlp: Language) -> None:
    doc = nlp("I would like to know why my invoice is wrong")
    assert doc._.language == "en"
    assert doc._.scored is True


def test_doc_pickles(nlp: Language) -> None:
    doc = nlp("Still waiting for a refund, this is ridiculous!!")
    clone = pickle.loads(pickle.dumps(doc))
    assert clone._.sentiment == doc._.sentiment
    assert clone._.frustrated == doc._.frustrated
    assert clone._.explanation == doc._.explanation


def test_pipe_n_process_2_matches(nlp: Language) -> None:
    texts = [
        "Love it",
        "Still waiting for my refund!!",
        "How do I export to CSV?",
        "charged twice, cancel my account",
        "Das Produkt ist schlecht",
        "",
        "😍",
    ] * 3
    single = [
        (d._.sentiment, d._.sentiment_label, d._.frustrated, d._.language) for d in nlp.pipe(texts)
    ]
    multi = [
        (d._.sentiment, d._.sentiment_label, d._.frustrated, d._.language)
        for d in nlp.pipe(texts, n_process=2, batch_size=4)
    ]
    assert multi == single


def test_config_controls_thresholds() -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("feedback_sentiment_v1", config={"neutral_band": 0.9})
    assert nlp("This is good")._.sentiment_label == "neutral"
    assert nlp.get_pipe_config("feedback_sentiment_v1")["rules_version"] == "rules-v3"


def test_pii_branch_is_lazy() -> None:
    import subprocess
    import sys

    # Our code must not import the PII masker for the default path. (spaCy itself imports
    # every factory registered by entry point when a pipeline is built, so this checks
    # our modules in a fresh interpreter, and the default pipeline's components.)
    code = (
        "import sys, nlp, nlp.pipeline, nlp.sentiment; assert 'nlp.pii_masker' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert load_pipeline(sentiment_model="rules").pipe_names == ["feedback_sentiment_v1"]


def test_pii_branch_adds_masker_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    calls: list[str] = []
    if "feedback_pii_masker_v1" not in Language.factories:
        fake = types.ModuleType("nlp.pii_masker")

        @Language.component("feedback_pii_masker_v1")
        def _fake_masker(doc):  # type: ignore[no-untyped-def]
            calls.append(doc.text)
            return doc

        monkeypatch.setitem(sys.modules, "nlp.pii_masker", fake)
    pipe = load_pipeline(pii=True, sentiment_model="rules")
    assert pipe.pipe_names == ["feedback_pii_masker_v1", "feedback_sentiment_v1"]
    doc = pipe("Mail me at jo@example.com, still waiting for my refund!!")
    assert doc._.sentiment < 0


# -- speed-path invariants ------------------------------------------------------------
LEXEME_SAMPLES = [
    "",
    "a",
    "I",
    "the",
    "The",
    "THE",
    "don't",
    "Don't",
    "n't",
    "well-made",
    "sooooo",
    "aaaaaaa",
    "AAAAAAB",
    "1234567",
    "12345",
    "3rd",
    "+5",
    "-3.5",
    "1,000",
    "1/2",
    "½",
    "²",
    "twenty",
    "Twentieth",
    "ten",
    ".",
    "...",
    "!!!!!!",
    "?!",
    "(",
    ")",
    "«",
    "''",
    "``",
    '"',
    "$",
    "€",
    "$5",
    ":)",
    ":-(",
    "<3",
    "😡",
    "👍🏽",
    "http://x.io",
    "www.example.com",
    "example.com",
    "a@b.co",
    "jo@example.com",
    "\n",
    "\n\n\n\n\n\n",
    " ",
    "\t",
    "ＡＢＣ",
    "١٢٣",
    "Ⅻ",
    "ß",
    "ǅ",
    "ﬁ",
    "naïve",
    "Ärger",
    "x" * 150,
    "café.fr",
    "e.g.",
    "U.S.",
]


def test_fast_lexeme_getters_match_spacy() -> None:
    import spacy

    from nlp.sentiment.lexattrs import FAST_GETTERS, install_fast_getters

    default = spacy.blank("en").vocab.lex_attr_getters
    vocab = spacy.blank("en").vocab
    install_fast_getters(vocab)
    fast = vocab.lex_attr_getters
    assert set(fast) == set(default)
    assert sum(fast[a] is FAST_GETTERS.get(a) for a in fast) == len(FAST_GETTERS)
    for text in LEXEME_SAMPLES:
        for attr, getter in default.items():
            try:
                want = getter(text)
            except IndexError:  # spaCy's like_url("") raises; ours answers False
                assert text == ""
                continue
            assert fast[attr](text) == want, (text, attr)


def test_pipeline_tokens_have_spacy_attributes(nlp: Language) -> None:
    import spacy

    text = "Sooo GOOD!!! 10/10, visit www.example.com or mail jo@example.com :) 😍 third-time"
    ours, ref = nlp(text), spacy.blank("en")(text)
    assert ours.text == text
    by_text = {t.text: t for t in ref}
    for tok in ours:
        if tok.text in by_text:
            r = by_text[tok.text]
            assert (
                tok.shape_,
                tok.like_num,
                tok.like_url,
                tok.like_email,
                tok.is_punct,
                tok.is_stop,
                tok.norm_,
                tok.is_ascii,
                tok.is_quote,
            ) == (
                r.shape_,
                r.like_num,
                r.like_url,
                r.like_email,
                r.is_punct,
                r.is_stop,
                r.norm_,
                r.is_ascii,
                r.is_quote,
            ), tok.text


def test_vocab_shared_and_prefilled() -> None:
    from nlp.sentiment.lexattrs import common_tokens

    first, second = load_pipeline(sentiment_model="rules"), load_pipeline(sentiment_model="rules")
    assert first.vocab is second.vocab
    words = common_tokens()
    assert len(words) > 10_000 and "the" in words and "," in words
    assert all(w in first.vocab for w in words[:1000])


def test_result_stored_where_spacy_looks(nlp: Language) -> None:
    # the component writes user_data directly; spaCy's own accessor must see the same
    doc = nlp("Still waiting for my refund!!")
    assert doc._.sentiment_result is not None
    assert doc._.sentiment_result["score"] == doc._.sentiment
    doc._.sentiment_result = None
    assert doc._.sentiment == 0.0 and doc._.sentiment_reason == "not_processed"


@pytest.mark.parametrize(
    "text",
    [
        "The app  is great",
        " leading space is bad",
        "line one is bad\n\nline two is great",
        "tab\tseparated terrible",
        "nbsp\u00a0awful",
        "trailing space good ",
        "It’s not good",
        "<b>broken</b> &amp; slow",
        "don't work",
        "a",
        "😍",
        "Great, another outage.",
    ],
)
def test_pipeline_matches_plain_scorer(nlp: Language, text: str) -> None:
    # the tokenizer hands its tokens to the scorer; results must equal scoring the text
    from nlp.sentiment.resources import load_resources
    from nlp.sentiment.scorer import Scorer

    doc = nlp(text)
    plain = Scorer(load_resources()).analyze(text)
    assert doc.text == text
    assert (doc._.sentiment, doc._.sentiment_label, doc._.explanation) == (
        plain.score,
        plain.label,
        plain.explanation,
    )


def test_cue_requires_gate() -> None:
    from nlp.sentiment.resources import load_resources

    gated = [c for c in load_resources().cues if c.requires]
    assert gated and all(isinstance(c.requires, frozenset) for c in gated)
    nlp = load_pipeline(sentiment_model="rules")
    for text in (
        "The app does not even load",
        "It won't sync anymore",
        "no one answered",
        "I'd like to speak to a manager",
        "How many times do I have to ask",
    ):
        doc = nlp(text)
        assert any(str(e.get("rule", "")).startswith("cue:") for e in doc._.explanation), text
        assert doc._.sentiment < 0, text


def test_new_lexemes_equal_spacys(nlp: Language) -> None:
    # the pipeline vocab's C-level getters must create exactly spaCy's lexemes
    import spacy

    ref = spacy.blank("en").vocab
    words = [*LEXEME_SAMPLES, "Zorbleflax", "ZORBLE", "zorbles", "Zo", "x-ray'd", "4ever"]
    doc = nlp(" ".join(w for w in words if w and not w.isspace()))
    for tok in doc:
        a, b = tok.lex, ref[tok.text]
        assert (a.flags, a.lower_, a.norm_, a.shape_, a.prefix_, a.suffix_, a.lang_) == (
            b.flags,
            b.lower_,
            b.norm_,
            b.shape_,
            b.prefix_,
            b.suffix_,
            b.lang_,
        ), tok.text
    assert not nlp.vocab.lookups.tables or nlp.vocab.lookups.tables == ref.lookups.tables
