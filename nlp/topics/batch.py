"""Cluster a list of texts at once (the CLI, evaluation and the benchmark)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from nlp.topics.clustering import (
    DEFAULT_PARAMS,
    OUTLIER,
    Centroids,
    ClusterParams,
    candidates,
    cluster_incremental,
)
from nlp.topics.encoders import make_encoder

if TYPE_CHECKING:
    from nlp.topics.labelling import ClusterLabel

DEFAULT_MIN_CLUSTER_SIZE = 30


@dataclass
class BatchClustering:
    labels: np.ndarray  # cluster id per text, -1 = outlier
    encoder: str  # encoder version, e.g. light-v3
    min_cluster_size: int
    seconds: float
    cpu_seconds: float = 0.0  # process CPU time (every thread): comparable on a busy machine
    descriptions: dict[int, ClusterLabel] = field(default_factory=dict)
    examples: dict[int, list[int]] = field(default_factory=dict)

    @property
    def candidates(self) -> set[int]:
        return candidates(self.labels, self.min_cluster_size)

    @property
    def outlier_share(self) -> float:
        return float((self.labels == OUTLIER).mean()) if len(self.labels) else 0.0

    @property
    def texts_per_s(self) -> float:
        return len(self.labels) / self.seconds if self.seconds > 0 else 0.0


def cluster_texts(
    texts: Sequence[str],
    *,
    encoder: str = "light",
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE,
    params: ClusterParams | None = None,
    describe: bool = False,
) -> BatchClustering:
    """Encode and cluster; ids start at 0 in order of creation. ``describe`` adds labels
    (central text + key phrases) and examples of candidate clusters; it needs spaCy."""
    started, cpu_started = time.perf_counter(), time.process_time()
    enc = make_encoder(encoder)
    texts = [t or "" for t in texts]
    z = enc.encode(texts)
    params = params or DEFAULT_PARAMS[encoder]
    result = cluster_incremental(z, Centroids(dim=z.shape[1]), params, next_id=0)
    out = BatchClustering(
        labels=result.labels,
        encoder=enc.version,
        min_cluster_size=min_cluster_size,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )
    if describe:
        from nlp.topics.encoders import TermStats
        from nlp.topics.labelling import label_cluster, representative
        from nlp.topics.text import lemmatize

        docs = lemmatize(texts)
        stats = TermStats.fit(docs)
        for cid in sorted(out.candidates):
            rows = np.flatnonzero(result.labels == cid)
            centroid = z[rows].sum(axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
            out.examples[cid] = [int(rows[i]) for i in representative(z[rows], centroid)]
            out.descriptions[cid] = label_cluster(
                [docs[i] for i in rows], stats, [texts[i] for i in out.examples[cid]]
            )
    return out
