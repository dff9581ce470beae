"""One test per scoring rule for customer-service language, and the fast tokenizer."""

from __future__ import annotations

import pytest
from sentiment_support import score
from spacy.language import Language

from nlp.sentiment.scorer import FAST_TOKEN_RE, TOKEN_RE, fold_label, token_regex


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
    # one findall of the (token, space) regex gives TOKEN_RE's tokens, cold and warm
    for _ in range(2):
        doc = nlp.tokenizer(text)
        assert doc.text == text
        assert [t.text for t in doc] == TOKEN_RE.findall(text)
    # URL/e-mail/emoticon alternatives are included exactly where such a token can occur
    pattern = token_regex(text)
    assert pattern.findall(text) == TOKEN_RE.findall(text)
    assert token_regex("see www.example.com") is not FAST_TOKEN_RE


def test_fast_tokenizer_in_memory_zone(nlp: Language) -> None:
    with nlp.memory_zone():
        doc = nlp("zonewordxyz is great")
        assert [t.text for t in doc] == ["zonewordxyz", "is", "great"]
    assert nlp("zonewordxyz is great")._.sentiment > 0


# -- rules-v2: general fixes (each moves the score the way a reader would) -------------
def test_again_only_amplifies_a_complaint(nlp: Language) -> None:
    assert score(nlp, "We will definitely come back again!") >= 0
    assert score(nlp, "Lovely staff, we'll be back again soon.") > 0.05
    crashed = nlp("The app crashed again")
    assert crashed._.sentiment < -0.05
    assert any(e.get("rule") == "cue:repeat_contact" for e in crashed._.explanation)
    happy = nlp("Great service, will come again")
    assert not any(
        e.get("rule") == "cue:repeat_contact" and e["weight"] < 0 for e in happy._.explanation
    )


def test_negation_reaches_past_a_booster_and_over_or(nlp: Language) -> None:
    assert score(nlp, "The service was not so good") < -0.05
    doc = nlp("The agent wasn't helpful or friendly")
    negated = {e["token"] for e in doc._.explanation if e.get("negated_by")}
    assert {"helpful", "friendly"} <= negated
    assert doc._.sentiment < -0.05


def test_praise_after_an_opener_is_not_sarcasm(nlp: Language) -> None:
    assert score(nlp, "Yay! Another good update!") > 0.05
    assert score(nlp, "Great, another outage.") < -0.05
    assert score(nlp, "great... another update that deletes my files") < 0


@pytest.mark.parametrize(
    "text",
    [
        "Nervous as hell",
        "Ha, that's awesome. Great song.",
        "Plus, it's only 8 bucks.",
        "Con: spotty service.",
        "Boring as hell",
    ],
)
def test_english_with_foreign_looking_function_words_is_english(nlp: Language, text: str) -> None:
    doc = nlp(text)
    assert doc._.language == "en", text
    assert doc._.scored


def test_broken_cue_does_not_reach_over_any_word(nlp: Language) -> None:
    liked = nlp("I don't like working out but I always feel better after")
    assert not any(e.get("rule") == "cue:broken" for e in liked._.explanation)
    export = nlp("The export doesn't even work")
    assert any(e.get("rule") == "cue:broken" for e in export._.explanation)


def test_going_to_is_not_a_churn_threat(nlp: Language) -> None:
    doc = nlp("I'm going to try it tomorrow, thanks")
    assert not any(e.get("rule") == "cue:churn_threat" for e in doc._.explanation)
    assert score(nlp, "We are going to a competitor because of this.") < -0.05


def test_inflections_only_of_rated_words(nlp: Language) -> None:
    # "based" is not the adjective "base", "means" not "mean"
    assert nlp("Pricing is based on seats")._.sentiment_label == "neutral"
    assert nlp("That means the invoice is sent monthly")._.sentiment_label == "neutral"


def test_negativity_weight_is_configured(nlp: Language) -> None:
    import spacy

    cfg = nlp.get_pipe_config("feedback_sentiment_v1")
    assert cfg["negativity_weight"] == 1.5
    flat = spacy.blank("en")
    flat.add_pipe("feedback_sentiment_v1", config={"negativity_weight": 1.0})
    text = "The app is great but the sync is slow"
    assert flat(text)._.sentiment > nlp(text)._.sentiment


SUPPORT_TEXTS = [
    "I am still waiting for my order.",
    "You charged me twice this month.",
    "Please cancel my account.",
    "This is the third time I'm asking about this.",
    "No response from support.",
    "I want a refund.",
    "Still not fixed.",
    "What a waste of time",
    "I need to escalate this",
    "How many times do I have to explain this",
    "Nobody has answered my emails",
    "I'm switching to Zendesk.",
    "I will file a chargeback",
    "The export doesn't work",
    "It stopped working after the update",
    "Been waiting for two weeks",
    "I have been on hold for an hour",
    "where is my refund?",
    "It keeps crashing every time I open it",
    "Hidden fees everywhere, double-charged again",
    "Can't wait for the next release!",
    "No problems at all so far",
    "Thanks so much for the quick response",
    "They went above and beyond",
    "five stars, worth every penny",
    "The package arrived damaged and the wrong size",
    "Never received my order, no one replies",
    "fed up, I want to speak to a manager",
    "Your app is down again, yeah right it's fixed",
    "I'd like to close my account and get my money back",
]


def test_cue_gates_and_triggers_never_skip_a_match() -> None:
    # soundness of the speed-ups: every cue whose regex matches a text must pass its
    # literal gate and be among the candidates its tokens trigger
    from nlp.sentiment.resources import load_resources
    from nlp.sentiment.scorer import Scorer, _passes

    res = load_resources()
    scorer = Scorer(res)
    for text in SUPPORT_TEXTS:
        low = text.lower()
        toks = [t.lower() for t in TOKEN_RE.findall(text)]
        scorer.analyze(text)  # learns the tokens
        cand = {i for t in toks if (r := scorer._info.get(t)) for i in r[2]}
        for cue in res.cues:
            matches = [
                m
                for m in cue.pattern.finditer(low)
                if m.start() == 0
                or not (low[m.start() - 1].isalnum() or low[m.start() - 1] in "'_")
            ]
            if not matches:
                continue
            assert _passes(cue.gate, low), (cue.source, text)
            assert cue.index in cand, (cue.source, text)


def test_literal_gate() -> None:
    from nlp.sentiment.resources import literal_gate

    assert literal_gate("waste of (?:time|money|effort)") == (
        ("waste of ",),
        ("time", "money", "effort"),
    )
    assert literal_gate("(?:a|b)") == ()  # nothing two characters long to check
    assert ("escalat",) in literal_gate("escalat(?:e|ed|ing|ion)")


@pytest.mark.parametrize(
    "text",
    [
        "Your app logged me out and now I can't log back in",
        "I cannot access my account since yesterday",
        "The new update deleted all my notes",
        "My card was declined but the money was taken",
        "Password reset email never arrives",
        "I love this app but the latest update made it slow",
    ],
)
def test_more_support_failures_are_negative(nlp: Language, text: str) -> None:
    assert score(nlp, text) < -0.05, (text, rules(nlp, text))


@pytest.mark.parametrize(
    "text",
    [
        "Quick question about invoices",
        "How do I add a team member?",
        "How do I export to CSV?",
        "How can I change my password?",
        "Is there a way to add a second user to my plan?",
        "Where do I find the invoice settings?",
        "Can you help me set up the integration?",
        "Please advise on how to change my billing address",
        "I deleted the old invoice from the list",
        "The new version has a different layout",
        # request words are no praise
        "I want help to edit my order",
        "I need to reach a human agent",
        "Which payment methods are accepted?",
        "I want to create an account",
        "help me unsubscribe from the newsletter",
        "What are the early exit charges?",
        # look-alikes of the waiting, churn, better, device and log-out cues
        "How long should I wait before restarting the router?",
        "I'll be back in the office on Monday",
        "Going back to the settings page shows the old layout",
        "It took 2 minutes to set up",
        "Is there a better plan for teams?",
        "The page is white with blue buttons",
        "Black Friday deals went live",
        "Log out first",
    ],
)
def test_requests_and_descriptions_stay_neutral(nlp: Language, text: str) -> None:
    doc = nlp(text)
    assert doc._.sentiment_label == "neutral", (text, doc._.explanation)
    assert not doc._.frustrated, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I waited over 40 minutes on the phone for someone to pick up", "waiting"),
        ("We waited and waited and nobody came", "waiting"),
        ("After a 30 minute wait I gave up", "waiting"),
        ("It took 3 weeks for the replacement to arrive", "waiting"),
        ("A password reset shouldn't take this long", "waiting"),
        ("I will not be back.", "churn_threat"),
        ("Honestly I won't be coming back to this store", "churn_threat"),
        ("I'll take my business elsewhere", "churn_threat"),
        ("Don't buy this charger", "churn_threat"),
        ("For that price I expected better service", "broken"),
        ("I've had better support from a chatbot", "broken"),
        ("Very low quality cable", "broken"),
        ("The agent had no clue what a refund is", "unresolved"),
        ("I want to lodge a consumer claim against your company", "escalation"),
        ("My screen went black after the update", "broken"),
        ("The app logs me out every day", "broken"),
        ("Your prices went up again", "billing"),
    ],
)
def test_complaints_without_sentiment_words(nlp: Language, text: str, category: str) -> None:
    doc = nlp(text)
    assert doc._.sentiment < -0.05, (text, doc._.explanation)
    assert any(e.get("rule") == f"cue:{category}" for e in doc._.explanation), doc._.explanation


def test_x_free_is_praise(nlp: Language) -> None:
    doc = nlp("Setup was hassle-free")
    assert doc._.sentiment > 0.05, doc._.explanation
    assert score(nlp, "Trouble free for a year now") > 0.05


@pytest.mark.parametrize(
    "text",
    [
        "It didn't fix the problem",
        "The update did not resolve the error",
        "This does not fix the crash",
        "I can't report the bug",
    ],
)
def test_a_negated_verb_leaves_the_problem_negative(nlp: Language, text: str) -> None:
    doc = nlp(text)
    assert doc._.sentiment < -0.05, doc._.explanation
    assert not any(e.get("negated_by") and e["weight"] > 0 for e in doc._.explanation)


@pytest.mark.parametrize("text", ["Not a problem", "never had any problems", "not too bad"])
def test_a_negated_problem_is_mildly_positive(nlp: Language, text: str) -> None:
    assert 0.05 < score(nlp, text) < 0.5, rules(nlp, text)


# Everyday support messages, one line each, written for this test (not from a dataset).
SUPPORT_MESSAGES = [
    ("Still waiting for my refund, it's been 3 weeks", "negative"),
    ("Thanks for the quick response, that solved it!", "positive"),
    ("Can you tell me how to change my password?", "neutral"),
    ("I was charged twice for the same order", "negative"),
    ("The app keeps crashing when I open the camera", "negative"),
    ("Great, another update and now nothing works", "negative"),
    ("Your agent Maria was super helpful", "positive"),
    ("I've been on hold for an hour", "negative"),
    ("The package arrived damaged", "negative"),
    ("Order #12345 hasn't shipped yet", "negative"),
    ("Is there a student discount?", "neutral"),
    ("Love the new dark mode!", "positive"),
    ("I didn't receive the confirmation email", "negative"),
    ("Works fine now, thank you", "positive"),
    ("The delivery was late again", "negative"),
    ("Do you ship to Canada?", "neutral"),
    ("Not happy with the service", "negative"),
    ("I can't log in", "negative"),
    ("Nobody has answered my emails", "negative"),
    ("Thank you so much for your help!", "positive"),
    ("The item is not as described", "negative"),
    ("Can I get an invoice for my last purchase?", "neutral"),
    ("Everything works perfectly", "positive"),
    ("The website is down", "negative"),
    ("My order is missing an item", "negative"),
    ("You guys are the best", "positive"),
    ("The checkout page shows an error when I pay with PayPal", "negative"),
    ("I need to update my billing address", "neutral"),
    ("This is the third time I'm contacting you about this", "negative"),
    ("Absolutely terrible customer service", "negative"),
    ("The new feature saves me so much time", "positive"),
    ("How long does shipping take to Germany?", "neutral"),
    ("My screen went black after the update", "negative"),
    ("Could you add an option to export to PDF?", "neutral"),
    ("I'm really disappointed with the quality", "negative"),
    ("The replacement arrived today and it works great", "positive"),
    ("Why does the app log me out every day?", "negative"),
    ("I love your product but the price went up again", "negative"),
    ("Support resolved my issue within minutes", "positive"),
    ("I'd like to change the email on my account", "neutral"),
]


@pytest.mark.parametrize(("text", "expected"), SUPPORT_MESSAGES)
def test_everyday_support_messages(nlp: Language, text: str, expected: str) -> None:
    doc = nlp(text)
    got = fold_label(doc._.sentiment_label)
    assert got == expected, (text, doc._.explanation)
