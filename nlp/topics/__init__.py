"""Topic clustering for feedback: encoders (light TF-IDF + LSA, optional MiniLM), incremental
clustering with stable ids and explicit outliers, labels from key phrases, and metrics."""

from nlp.topics.batch import DEFAULT_MIN_CLUSTER_SIZE, BatchClustering, cluster_texts
from nlp.topics.clustering import (
    DEFAULT_PARAMS,
    OUTLIER,
    Centroids,
    ClusterParams,
    cluster_incremental,
)
from nlp.topics.encoders import ENCODERS, EncoderUnavailable, make_encoder, minilm_available
from nlp.topics.metrics import ClusterScores, evaluate

__all__ = [
    "DEFAULT_MIN_CLUSTER_SIZE",
    "DEFAULT_PARAMS",
    "ENCODERS",
    "OUTLIER",
    "BatchClustering",
    "Centroids",
    "ClusterParams",
    "ClusterScores",
    "EncoderUnavailable",
    "cluster_incremental",
    "cluster_texts",
    "evaluate",
    "make_encoder",
    "minilm_available",
]
