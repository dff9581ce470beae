"""The light encoder (WordLlama token embeddings + content words), the purity split of new
clusters, and readable cluster labels (central member text + distinctive key phrases)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nlp.topics.batch import cluster_texts
from nlp.topics.clustering import OUTLIER, agglomerate
from nlp.topics.datasets import DEFAULT_INTENTS_ROOT, load_intent_sets
from nlp.topics.encoders import WordEncoder, make_encoder
from nlp.topics.labelling import central_text, trim_text
from nlp.topics.text import lemmatize

ROOT = Path(__file__).resolve().parents[2]


def test_light_clustering_imports_no_torch_and_no_spacy() -> None:
    code = textwrap.dedent(
        """
        import sys
        from nlp.topics.batch import cluster_texts
        texts = ["how do i cancel my order"] * 6 + ["where is my refund"] * 6
        run = cluster_texts(texts, encoder="light", min_cluster_size=3)
        assert run.encoder == "light-v3", run.encoder
        assert len(set(run.labels.tolist())) == 2, run.labels
        print(sorted(m for m in ("torch", "spacy", "thinc") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_word_encoder_knows_words_and_ignores_placeholders() -> None:
    enc = make_encoder("light")
    assert isinstance(enc, WordEncoder)
    z = enc.encode(
        [
            "How do I cancel my order?",
            "I want to cancel the order I placed",
            "What is the weather like tomorrow?",
            "<EMAIL_ADDRESS> <PHONE_NUMBER>",
            "",
        ]
    )
    assert z.shape == (5, enc.dim)
    sims = z @ z.T
    # paraphrases sharing no exact word order are close, another topic is far
    assert sims[0, 1] > 0.6 > sims[0, 2] + 0.2
    assert not z[3].any() and not z[4].any(), "masked data alone says nothing about a topic"
    assert np.allclose(enc.encode(["How do I cancel my order?"])[0], z[0]), "no state: stable"


def test_token_weights_are_the_measured_definition() -> None:
    """light-v3: each token weighs ||e||^-0.5, digit and punctuation tokens are left out of the
    mean, and a text of nothing else keeps its plain mean (recomputed here from the wheel)."""
    from safetensors.numpy import load_file

    from nlp.topics.encoders import _wordllama_files

    enc = WordEncoder()
    emb, tok = enc._load()
    raw = load_file(str(_wordllama_files()[0]))["embedding.weight"].astype(np.float32)

    def expected(text: str, skip_digits_and_punct: bool) -> np.ndarray:
        ids = tok.encode(text, add_special_tokens=False).ids
        pieces = [tok.id_to_token(i).replace("\u2581", "") for i in ids]
        keep = [
            i
            for i, p in zip(ids, pieces, strict=True)
            if not skip_digits_and_punct or (p == "" or p.isalpha())
        ]
        rows = raw[keep]
        if skip_digits_and_punct:
            rows = rows * (np.linalg.norm(rows, axis=1, keepdims=True) ** -0.5)
        v = rows.sum(0)
        return v / np.linalg.norm(v)

    z = enc.token_vectors(["cancel order 3707955617, now!", "#85632 ??", "cancel order"])
    assert np.allclose(z[0], expected("cancel order 3707955617, now!", True), atol=1e-5)
    assert np.allclose(z[1], expected("#85632 ??", False), atol=1e-5)
    assert float(z[0] @ z[2]) < 0.999  # "now" still counts
    a, b = enc.token_vectors(["cancel order 3707955617", "cancel order 12"])
    assert np.allclose(a, b, atol=1e-6), "which order number says nothing about the topic"
    assert emb.dtype == np.float32 and emb.shape == raw.shape


def test_action_verbs_weigh_double_in_the_word_half() -> None:
    enc = WordEncoder()
    w = enc.word_vectors(["create my account", "delete my account", "get my account"])
    # unit vectors over {verb: 2, account: 1}: the verb carries 4/5 of the squared norm
    assert float(w[0] @ w[1]) == pytest.approx(1 / 5)
    assert float(w[0] @ w[2]) == pytest.approx(1 / 5), "'get' is a stop word kept as a verb"


def test_a_group_mixing_two_tight_subgroups_splits() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=64)
    a = base + 0.9 * rng.normal(size=64)
    b = base + 0.9 * rng.normal(size=64)

    def around(c: np.ndarray, k: int) -> np.ndarray:
        x = c + 0.35 * rng.normal(size=(k, 64))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    z = np.vstack([around(a, 12), around(b, 12)]).astype(np.float32)
    loose = agglomerate(z, 0.3, 5)
    assert len(set(loose.tolist()) - {OUTLIER}) == 1, "the loose cut merges both"
    split = agglomerate(z, 0.3, 5, split_similarity=0.7)
    assert set(split[:12].tolist()) == {0} and set(split[12:].tolist()) == {1}


def test_trim_and_central_text() -> None:
    assert trim_text("Hi there. How do I reset my password? Thanks!") == (
        "How do I reset my password?"
    )
    long = "word " * 40
    assert trim_text(long).endswith("…") and len(trim_text(long)) <= 91
    # the nearest text that reads as a question wins over a nearer statement
    texts = ["password reset not working for me at all", "how can I reset my password"]
    assert central_text(texts) == "how can I reset my password"
    assert central_text(["x " * 200, "Order never came."]) == "Order never came."


SETS = (
    load_intent_sets(DEFAULT_INTENTS_ROOT, sample=900, seed=3)
    if DEFAULT_INTENTS_ROOT.is_dir()
    else {}
)


@pytest.mark.skipif("bitext" not in SETS, reason="../shared/data/intents/bitext not found")
def test_labels_are_member_texts_with_distinctive_phrases() -> None:
    texts, _ = SETS["bitext"]
    run = cluster_texts(texts, encoder="light", min_cluster_size=15, describe=True)
    assert run.descriptions, "a real sample has candidate clusters"
    docs = lemmatize(texts)
    for cid, desc in run.descriptions.items():
        rows = np.flatnonzero(run.labels == cid)
        label = desc.label.rstrip("…")
        assert any(label in " ".join(texts[i].split()) for i in rows), (cid, desc.label)
        assert len(desc.label) <= 91 and "/" not in desc.label
        assert 1 <= len(desc.phrases) <= 3
        inside = [set(docs[i]) for i in rows]
        outside = [set(docs[i]) for i in np.flatnonzero(run.labels != cid)]
        for phrase in desc.phrases:
            words = phrase.split()
            share_in = np.mean([all(w in d for w in words) for d in inside])
            share_out = np.mean([all(w in d for w in words) for d in outside])
            assert share_in > 2 * share_out, (cid, phrase, share_in, share_out)
        assert desc.title.startswith(desc.label)


def test_tokens_piece_by_piece_are_the_whole_texts_tokens() -> None:
    """The light encoder tokenizes a text's words one at a time (each once per encoder): the
    ids are the tokenizer's own for the whole text, so the vectors do not change."""
    from demo.generator import generate

    data = generate(seed=5, tickets=300)
    texts = [t.description for t in data.tickets if t.description]
    texts += [c.body for c in data.comments[:2000] if c.body]
    texts += [
        "a  b   c",
        "trailing space ",
        "tab\tand\nnewline then  two",
        "no\u00a0break space",
        "emoji 😀 and accents é ü ß",
        "a literal \u2581 mark \u2581\u2581 twice",
        "don't   stop--now!!  (really?)",
        "x",
    ]
    enc = WordEncoder()
    _, tok = enc._load()
    whole = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    assert [enc.token_ids(t) for t in texts] == whole
    assert [enc.token_ids(t) for t in texts] == whole  # again, from the piece cache
    assert 0 < len(enc._pieces) < sum(len(t.split()) for t in texts)  # words repeat
