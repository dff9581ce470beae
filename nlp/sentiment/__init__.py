"""Sentiment and frustration scoring for customer feedback (spaCy factory
``feedback_sentiment_v1``)."""

from nlp.sentiment.component import (
    RULES_VERSION,
    SentimentComponent,
    make_sentiment,
    pipe_fields,
    sentiment_fields,
)
from nlp.sentiment.scorer import LABELS, THREE_CLASSES, Analysis, Scorer, fold_label

__all__ = [
    "LABELS",
    "RULES_VERSION",
    "THREE_CLASSES",
    "Analysis",
    "Scorer",
    "SentimentComponent",
    "fold_label",
    "make_sentiment",
    "pipe_fields",
    "sentiment_fields",
]
