"""Clustering metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from nlp.topics.metrics import (
    ari,
    candidate_ids,
    candidate_purity,
    evaluate,
    label_recall,
    nmi,
    outlier_share,
)


def test_nmi_by_hand() -> None:
    # labels a a b b, clusters 0 0 0 1: H(L)=ln2, H(C)=-(3/4 ln 3/4 + 1/4 ln 1/4),
    # MI = sum p_ij ln(p_ij / (p_i p_j)) = 1/2 ln(2/3*... ) worked out below
    labels, clusters = ["a", "a", "b", "b"], [0, 0, 0, 1]
    h_l = math.log(2)
    h_c = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    mi = 0.5 * math.log(0.5 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / (0.5 * 0.75))
    mi += 0.25 * math.log(0.25 / (0.5 * 0.25))
    assert nmi(labels, clusters) == pytest.approx(mi / ((h_l + h_c) / 2))
    assert nmi(labels, [5, 5, 9, 9]) == pytest.approx(1.0), "ids need not match labels"
    assert nmi(labels, [0, 1, 0, 1]) == pytest.approx(0.0)


def test_ari_by_hand() -> None:
    # contingency [[2,0],[1,1]]: index = C(2,2) = 1, rows: 1+1 = 2, cols: C(3,2)+0 = 3,
    # expected = 2*3/C(4,2) = 1, max = 2.5 -> ARI = (1-1)/(2.5-1) = 0
    assert ari(["a", "a", "b", "b"], [0, 0, 0, 1]) == pytest.approx(0.0)
    assert ari(["a", "a", "b", "b"], [1, 1, 0, 0]) == pytest.approx(1.0)
    # [[2,1],[0,3]] over 6 items: index 1+3=4, rows 3+3=6, cols 1+6=7, expected 42/15=2.8,
    # max 6.5 -> (4-2.8)/(6.5-2.8)
    got = ari(["a"] * 3 + ["b"] * 3, [0, 0, 1, 1, 1, 1])
    assert got == pytest.approx((4 - 2.8) / (6.5 - 2.8))


def test_outliers_count_as_one_cluster_in_nmi_but_not_in_the_clustered_score() -> None:
    labels = ["a", "a", "a", "b", "b", "b", "c", "d"]
    clusters = [0, 0, 0, 1, 1, 1, -1, -1]
    scores = evaluate(labels, clusters, min_size=3)
    assert scores.nmi < 1.0 and scores.nmi == pytest.approx(nmi(labels, clusters))
    assert scores.nmi_clustered == pytest.approx(1.0)
    assert scores.outlier_share == pytest.approx(2 / 8) == outlier_share(clusters)
    assert scores.clusters == 2 and scores.candidates == 2


def test_candidate_purity_and_label_recall_by_hand() -> None:
    # cluster 0: 3 a + 1 b (purity 3/4), cluster 1: 2 b (purity 1), cluster 2: 1 c, outliers
    labels = ["a", "a", "a", "b", "b", "b", "c", "a", "c"]
    clusters = [0, 0, 0, 0, 1, 1, 2, -1, -1]
    assert candidate_ids(clusters, 2) == {0, 1}
    assert candidate_purity(labels, clusters, 2) == pytest.approx((3 / 4 + 1) / 2)
    # labels with >= 2 items: a (4), b (3), c (2); majorities of candidates: a, b -> 2/3
    assert label_recall(labels, clusters, 2) == pytest.approx(2 / 3)
    # min size 3: only cluster 0 is a candidate; a, b have >= 3 items; a is found -> 1/2
    assert candidate_purity(labels, clusters, 3) == pytest.approx(3 / 4)
    assert label_recall(labels, clusters, 3) == pytest.approx(1 / 2)
    assert candidate_purity(labels, clusters, 10) == 0.0 and label_recall(labels, clusters, 10) == 0


def test_a_cluster_of_exactly_min_size_is_a_candidate() -> None:
    clusters = [7] * 30 + [8] * 29 + [-1] * 40
    assert candidate_ids(clusters, 30) == {7}
    assert -1 not in candidate_ids(clusters, 1), "outliers are never a candidate"


def test_mismatched_lengths_fail() -> None:
    with pytest.raises(ValueError):
        nmi(["a"], [0, 1])
