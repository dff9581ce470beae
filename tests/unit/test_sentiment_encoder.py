"""The encoder-backed sentiment model (issue #16): default pipeline, ONNX int8 export, the
packaged head, adapting it to reviewed labels, and the `--model rules` fast path."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sentiment_support import write_csv
from spacy.language import Language

from nlp import load_pipeline
from nlp.encoders.minilm import MiniLMEncoder
from nlp.evaluation import DEFAULT_DATA_ROOT, classification_report, load_shared_sentiment
from nlp.sentiment import RULES_VERSION
from nlp.sentiment.encoder_head import (
    CLASSES,
    DEFAULT_DIR,
    RULE_PRIOR,
    EncoderHead,
    fit_head,
    save_head,
    with_rule_prior,
)
from nlp.sentiment.resources import load_resources
from nlp.sentiment.scorer import Scorer

REPO = Path(__file__).resolve().parents[2]
SHARED = (DEFAULT_DATA_ROOT / "sentiment").is_dir()


@pytest.fixture(scope="module")
def encoder_nlp() -> Language:
    # one pipeline for the module; the ONNX export lives in the session's cache (conftest)
    return load_pipeline()


def test_default_pipeline_is_the_encoder_head(encoder_nlp: Language) -> None:
    head = json.loads((DEFAULT_DIR / "meta.json").read_text())
    assert head["version"] == "encoder-v1" and head["kind"] == "encoder-head"
    doc = encoder_nlp("Still waiting for my refund, third time asking. Cancel my account!")
    assert doc._.sentiment_model_version == "encoder-v1"
    assert doc._.sentiment_label in ("negative", "very_negative") and doc._.frustrated
    words = [e["token"] for e in doc._.explanation if e.get("source") == "encoder"]
    assert words and all(w.lower() in doc.text.lower() for w in words)
    assert encoder_nlp("Love the new dashboard, great work")._.sentiment > 0.05


def test_encoder_scores_are_deterministic_and_batch_independent(encoder_nlp: Language) -> None:
    texts = ["the export keeps failing", "thanks, that fixed it", "how do I add a user?"] * 3
    piped = [d._.sentiment for d in encoder_nlp.pipe(texts, batch_size=4)]
    single = [encoder_nlp(t)._.sentiment for t in texts]
    assert piped == single
    assert piped[:3] == piped[3:6] == piped[6:]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 1_000_000, "😀😀😀", "Das ist wirklich schlecht, ich warte seit Tagen"],
)
def test_encoder_pipeline_survives_odd_texts(encoder_nlp: Language, text: str) -> None:
    doc = encoder_nlp(text)
    assert -1.0 <= doc._.sentiment <= 1.0
    assert all(len(e.get("token", "")) <= 40 for e in doc._.explanation if "source" in e)
    if text.startswith("Das"):
        assert doc._.language == "de" and not doc._.scored  # flagged, not scored as English


def test_rules_model_stays_selectable_without_the_encoder() -> None:
    nlp = load_pipeline(sentiment_model="rules")
    comp = nlp.get_pipe("feedback_sentiment_v1")
    assert nlp("charged twice again")._.sentiment_model_version == RULES_VERSION
    assert not comp.uses_encoder and comp._encoder is None
    with pytest.raises(ValueError):
        load_pipeline(sentiment_model="bert")


def test_encoder_pipeline_round_trips_to_disk(encoder_nlp: Language, tmp_path: Path) -> None:
    import spacy

    encoder_nlp.to_disk(tmp_path / "p")
    again = spacy.load(tmp_path / "p")
    text = "the update broke my reports"
    assert again(text)._.sentiment_model_version == "encoder-v1"
    assert again(text)._.sentiment == encoder_nlp(text)._.sentiment


def _fixed_set() -> list[str]:
    if SHARED:
        sets = load_shared_sentiment()
        return [t for name in sorted(sets) for t in sets[name][0][:60]]
    base = ["the app crashed again", "thanks for the quick fix", "where is my invoice?"]
    return [f"{t} ({i})" for i in range(100) for t in base]


def test_quantized_and_full_encoders_agree_on_labels() -> None:
    texts = _fixed_set()
    head = EncoderHead.load(DEFAULT_DIR)
    analyses = [Scorer(load_resources()).analyze(t) for t in texts]  # as scored
    labels = {}
    for quantized in (True, False):
        emb = MiniLMEncoder(quantized=quantized).encode(texts)
        labels[quantized] = head.predict(emb, analyses).argmax(axis=1)
    agree = float((labels[True] == labels[False]).mean())
    assert agree >= 0.99, agree


def test_the_rules_label_is_mixed_in_with_the_packaged_weight() -> None:
    head = EncoderHead.load(DEFAULT_DIR)
    assert head.rule_prior == RULE_PRIOR == 0.25
    scorer = Scorer(load_resources())
    analyses = [scorer.analyze(t) for t in ("this is awful", "where is my invoice?")]
    rules = [CLASSES.index(a.label3) for a in analyses]
    unsure = np.full((2, 3), 1 / 3)
    mixed = with_rule_prior(unsure, analyses, head.rule_prior)
    assert mixed.argmax(axis=1).tolist() == rules  # an undecided head takes the rules' side
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    sure = np.eye(3)[[2, 2]]  # a head sure of "positive" outweighs the rules' 0.25
    assert with_rule_prior(sure, analyses, head.rule_prior).argmax(axis=1).tolist() == [2, 2]
    legacy = EncoderHead(head.coef, head.intercept, {"version": "x"})  # saved before the prior
    assert legacy.rule_prior == 0.0


def test_saved_head_bytes_are_reproducible(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, size=60)
    files = [save_head(tmp_path / d, *fit_head(x, y, c=1.0), {"version": "t"}) for d in "ab"]
    assert files[0] == files[1]
    assert EncoderHead.load(tmp_path / "a").coef.shape == (5, 3)


@pytest.mark.skipif(not SHARED, reason="shared data not available")
def test_fifty_labels_do_not_undo_the_base_model(tmp_path: Path) -> None:
    from nlp.training import train

    sets = load_shared_sentiment()
    texts, gold = sets["vader_amazon"]
    rng = np.random.default_rng(3)
    order = rng.permutation(len(texts))
    fit = order[:50]
    info = train([texts[i] for i in fit], [gold[i] for i in fit], tmp_path / "m", seed=0)
    assert info.version.startswith("sentiment-encoder-adapted-")
    assert json.loads((tmp_path / "m" / "meta.json").read_text())["kind"] == "encoder-head"
    # the public sets, none of the 50 training rows: a small seeded subset of each
    eval_t, eval_g = [], []
    for name in sorted(sets):
        t, g = sets[name]
        keep = [
            i
            for i in np.random.default_rng(1).permutation(len(t))[:60]
            if name != "vader_amazon" or i not in set(fit)
        ]
        eval_t += [t[i] for i in keep]
        eval_g += [g[i] for i in keep]
    scores = {}
    for key, path in (("base", None), ("adapted", tmp_path / "m")):
        nlp = load_pipeline(path)
        scores[key] = classification_report(eval_g, [d._.sentiment_label for d in nlp.pipe(eval_t)])
    assert scores["adapted"]["macro_f1"] >= scores["base"]["macro_f1"] - 0.01, scores


def test_cli_score_default_and_rules_in_a_subprocess(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", [{"body": "charged twice, no response"}, {"body": "ok"}])
    exe = [str(Path(sys.executable).parent / "feedbackloop"), "nlp", "score", "--input", str(src)]
    # a cache of its own: this run exports the encoder, as a first run on a new machine does
    env = {
        **os.environ,
        "FEEDBACKLOOP_STATE_DIR": str(tmp_path / "state"),
        "FEEDBACKLOOP_ENCODER_CACHE_DIR": str(tmp_path / "onnx"),
    }
    seen = {}
    for model in ("rules", None):
        out = tmp_path / f"{model}.csv"
        args = [*exe, "--text-column", "body", "--output", str(out)]
        args += ["--model", model] if model else []
        res = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
        assert res.returncode == 0, res.stderr
        seen[model] = res.stderr
        rows = list(csv.DictReader(out.open()))
        assert [r["row"] for r in rows] == ["0", "1"]
        assert rows[0]["label"] in ("negative", "very_negative")
    assert RULES_VERSION in seen["rules"]
    assert "encoder-v1" in seen[None]
    assert list((tmp_path / "onnx").glob("*-int8.onnx"))  # exported on this run
    for noise in ("Loading weights", "WARNING:root", "TracerWarning", "Traceback"):
        assert noise not in seen[None], seen[None]
