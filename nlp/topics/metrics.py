"""Clustering metrics against gold labels, with no dependency beyond numpy.

Outliers (cluster id -1) are scored as one more cluster by ``nmi``/``ari``: that is how an
outside evaluation reading the ``cluster_id`` column sees them, and it is the strict reading
(a large outlier bag mixing every label costs NMI). ``evaluate`` also reports both scores on
the clustered rows only, to tell the quality of the clusters apart from the outlier share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

OUTLIER = -1


def _contingency(labels: Sequence[Any], clusters: Sequence[int]) -> np.ndarray:
    if len(labels) != len(clusters):
        raise ValueError(f"{len(labels)} labels but {len(clusters)} cluster ids")
    _, li = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    _, ci = np.unique(np.asarray(clusters), return_inverse=True)
    table = np.zeros((li.max(initial=-1) + 1, ci.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (li, ci), 1)
    return table


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(float)
    if counts.size <= 1:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(labels: Sequence[Any], clusters: Sequence[int]) -> float:
    """Normalized mutual information, arithmetic mean of the entropies (scikit-learn's
    default). 1.0 when both partitions are trivial (one group each)."""
    table = _contingency(labels, clusters)
    n = table.sum()
    if n == 0:
        return 0.0
    h_l, h_c = _entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))
    if h_l == 0.0 and h_c == 0.0:
        return 1.0
    nz = table > 0
    pij = table[nz] / n
    pi = (table.sum(axis=1, keepdims=True) / n).repeat(table.shape[1], axis=1)[nz]
    pj = (table.sum(axis=0, keepdims=True) / n).repeat(table.shape[0], axis=0)[nz]
    mi = float((pij * np.log(pij / (pi * pj))).sum())
    denom = (h_l + h_c) / 2
    return max(0.0, min(1.0, mi / denom)) if denom > 0 else 0.0


def _pairs(x: np.ndarray) -> float:
    x = x.astype(float)
    return float((x * (x - 1) / 2).sum())


def ari(labels: Sequence[Any], clusters: Sequence[int]) -> float:
    """Adjusted Rand index (Hubert and Arabie). 1.0 when the partitions agree exactly."""
    table = _contingency(labels, clusters)
    n = int(table.sum())
    if n < 2:
        return 1.0
    index = _pairs(table)
    a, b = _pairs(table.sum(axis=1)), _pairs(table.sum(axis=0))
    total = n * (n - 1) / 2
    expected = a * b / total
    maximum = (a + b) / 2
    if maximum == expected:  # both partitions trivial in the same way
        return 1.0
    return float((index - expected) / (maximum - expected))


def candidate_ids(clusters: Sequence[int], min_size: int) -> set[int]:
    """Clusters with at least ``min_size`` members (outliers are never a candidate)."""
    sizes = Counter(int(c) for c in clusters)
    return {c for c, n in sizes.items() if c != OUTLIER and n >= min_size}


def candidate_purity(labels: Sequence[Any], clusters: Sequence[int], min_size: int) -> float:
    """Mean, over candidate clusters, of the share of the cluster's majority label.
    0.0 when there is no candidate."""
    members: dict[int, Counter[str]] = {}
    for label, c in zip(labels, clusters, strict=True):
        members.setdefault(int(c), Counter())[str(label)] += 1
    shares = [
        members[c].most_common(1)[0][1] / sum(members[c].values())
        for c in candidate_ids(clusters, min_size)
    ]
    return float(np.mean(shares)) if shares else 0.0


def label_recall(labels: Sequence[Any], clusters: Sequence[int], min_size: int) -> float:
    """Share of the labels with at least ``min_size`` items that are the majority label of at
    least one candidate cluster. 0.0 when no label has that many items."""
    frequent = {lab for lab, n in Counter(str(x) for x in labels).items() if n >= min_size}
    if not frequent:
        return 0.0
    members: dict[int, Counter[str]] = {}
    for label, c in zip(labels, clusters, strict=True):
        members.setdefault(int(c), Counter())[str(label)] += 1
    # ties: every label sharing the top count is a majority (deterministic, order-free)
    found: set[str] = set()
    for c in candidate_ids(clusters, min_size):
        top = max(members[c].values())
        found |= {lab for lab, n in members[c].items() if n == top}
    return len(found & frequent) / len(frequent)


def outlier_share(clusters: Sequence[int]) -> float:
    return sum(int(c) == OUTLIER for c in clusters) / len(clusters) if len(clusters) else 0.0


@dataclass(frozen=True)
class ClusterScores:
    n: int
    labels: int
    clusters: int
    candidates: int
    nmi: float
    ari: float
    nmi_clustered: float
    ari_clustered: float
    candidate_purity: float
    label_recall: float
    outlier_share: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(labels: Sequence[Any], clusters: Sequence[int], min_size: int) -> ClusterScores:
    """Every metric of ``feedbackloop topics eval`` for one clustering."""
    kept = [(lab, c) for lab, c in zip(labels, clusters, strict=True) if int(c) != OUTLIER]
    kl = [lab for lab, _ in kept]
    kc = [c for _, c in kept]
    return ClusterScores(
        n=len(labels),
        labels=len({str(x) for x in labels}),
        clusters=len({int(c) for c in clusters} - {OUTLIER}),
        candidates=len(candidate_ids(clusters, min_size)),
        nmi=nmi(labels, clusters),
        ari=ari(labels, clusters),
        nmi_clustered=nmi(kl, kc) if kept else 0.0,
        ari_clustered=ari(kl, kc) if kept else 0.0,
        candidate_purity=candidate_purity(labels, clusters, min_size),
        label_recall=label_recall(labels, clusters, min_size),
        outlier_share=outlier_share(clusters),
    )
