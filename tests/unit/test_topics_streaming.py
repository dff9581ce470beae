"""Topic clustering in bounded memory: average linkage on one float32 matrix, pool vectors read
back from a file a chunk at a time, token sums by text length; each gives what the whole-array
(or scipy) code gave."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from nlp.topics.clustering import (
    Centroids,
    ClusterParams,
    VectorFile,
    average_linkage,
    cluster_incremental,
    cut_merges,
)
from nlp.topics.encoders import PLACEHOLDER, TermStats, WordEncoder, normalize_rows, token_sums
from nlp.topics.text import lemmatize


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def grouped(n_per: int, groups: int, dim: int, seed: int) -> np.ndarray:
    """Rows near `groups` random directions, shuffled, plus as many scattered rows."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(groups, dim, seed + 1)
    z = np.repeat(centres, n_per, axis=0) + rng.normal(0, 0.15, (groups * n_per, dim))
    z = np.vstack([z, rng.normal(size=(n_per, dim))]).astype(np.float32)
    z = z[rng.permutation(len(z))]
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """The same groups of rows, whatever the ids."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", [3, 4])
def test_average_linkage_gives_scipys_tree(seed: int) -> None:
    from scipy.cluster.hierarchy import fcluster, linkage

    z = grouped(60, 6, dim=24, seed=seed)
    rows, cols = np.triu_indices(len(z), 1)
    condensed = np.clip(1.0 - (z @ z.T)[rows, cols].astype(np.float64), 0.0, 2.0)
    tree = linkage(condensed, method="average")
    merges = average_linkage(z)
    # the same merge heights (float32 arithmetic here) and the same flat clusters at any cut
    assert np.allclose(np.sort(merges[2]), tree[:, 2], atol=1e-5)
    for height in (0.05, 0.3, 0.5, 0.7, 0.9, 1.2):
        ours = cut_merges(len(z), merges, height)
        theirs = fcluster(tree, t=height, criterion="distance")
        assert same_partition(ours, theirs), height
    assert len(average_linkage(z[:1])[0]) == 0 and cut_merges(1, average_linkage(z[:1]), 0.5) == [1]


@pytest.mark.parametrize("length", [1, 2, 3, 7, 8, 9, 16, 17, 100, 128, 129, 130, 257, 1031])
def test_token_sums_equal_numpy_reduceat(length: int) -> None:
    rng = np.random.default_rng(length)
    emb = rng.normal(size=(500, 32)).astype(np.float32)
    grid = rng.integers(0, 500, size=(4, length))
    starts = np.arange(0, grid.size, length)
    expected = np.add.reduceat(emb[grid.reshape(-1)], starts, axis=0)
    assert np.array_equal(token_sums(emb, grid), expected)


def test_word_encoder_token_vectors_are_the_reduceat_means() -> None:
    enc = WordEncoder()
    emb, tok = enc._load()
    texts = [
        "refund",
        "Where is my refund for order 1234? I asked twice and nobody answered.",
        "",
        "<EMAIL_ADDRESS> <PHONE_NUMBER>",
        "cannot log in " * 40,
        "Call <PERSON> about the invoice",
        "where is my refund",
    ]
    # the encoder's former computation: every token row of the batch summed by reduceat
    clean = [(PLACEHOLDER.sub(" ", t) if "<" in t else t).strip() for t in texts]
    ids = [tok.encode(t, add_special_tokens=False).ids if t else [] for t in clean]
    lengths = np.array([len(i) for i in ids])
    full = np.flatnonzero(lengths)
    flat = np.array([i for doc in ids for i in doc], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[full]
    expected = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
    expected[full] = np.add.reduceat(emb[flat], starts, axis=0) / lengths[full, None]
    assert np.array_equal(enc.token_vectors(texts), normalize_rows(expected))


def test_a_vector_file_gives_back_the_rows_asked_for(tmp_path: Path) -> None:
    z = unit_rows(50, 6, seed=1)
    with VectorFile(6, tmp_path) as store:
        for start in range(0, 50, 16):
            store.append(z[start : start + 16])
        assert len(store) == 50
        rows = np.array([49, 0, 1, 2, 30, 31, 7, 7, 48])
        assert np.array_equal(store.take(rows), z[rows])
        assert store.take(np.arange(0)).shape == (0, 6)
        with pytest.raises(IndexError):
            store.take(np.array([50]))
        with pytest.raises(ValueError):
            store.append(np.zeros((2, 5), dtype=np.float32))
    assert list(tmp_path.iterdir()) == [], "nothing left on disk"


def test_clustering_from_a_vector_file_is_clustering_from_the_array(tmp_path: Path) -> None:
    z = grouped(n_per=60, groups=5, dim=12, seed=5)  # 360 rows
    params = ClusterParams(
        merge_similarity=0.6, attach_similarity=0.6, min_members=4, batch=40, split_similarity=0.8
    )
    # two clusters known before the run, and the first 25 rows pending as earlier outliers
    existing = Centroids(dim=12)
    existing.add(3, z[:5])
    existing.add(8, unit_rows(6, 12, seed=9))
    pending = np.arange(25)

    expected = cluster_incremental(z, copy.deepcopy(existing), params, 9, pending=pending)
    with VectorFile(12, tmp_path) as store:
        store.append(z[:100])
        store.append(z[100:])
        from_file = copy.deepcopy(existing)
        got = cluster_incremental(store, from_file, params, 9, pending=pending)

    assert np.array_equal(got.labels, expected.labels)
    assert got.new_ids == expected.new_ids and len(got.new_ids) >= 4, "many chunks, new ids"
    assert (got.attached, got.in_new) == (expected.attached, expected.in_new)
    reference = copy.deepcopy(existing)
    cluster_incremental(z, reference, params, 9, pending=pending)
    assert from_file.ids == reference.ids
    assert np.array_equal(from_file.sums, reference.sums)
    assert np.array_equal(from_file.counts, reference.counts)


def test_term_stats_fit_from_a_generator_is_the_fit_from_a_list() -> None:
    texts = ["refund my order", "refund please", "password reset", "reset link broken"] * 3
    docs = lemmatize(texts)
    from_list = TermStats.fit(docs)
    from_generator = TermStats.fit(doc for doc in docs)
    assert from_generator.vocab == from_list.vocab and from_list.n_docs == 12
    assert np.array_equal(from_generator.idf, from_list.idf)


def test_average_linkage_refuses_vectors_that_are_not_finite() -> None:
    z = unit_rows(6, 4, seed=1)
    z[2, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        average_linkage(z)
