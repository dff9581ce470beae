"""Classification metrics on three classes (five levels folded): what evaluation reports and
what training compares a candidate model by. Macro-F1 averages over the classes present in
the gold labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nlp.sentiment.scorer import THREE_CLASSES, fold_label


def classification_report(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over gold classes) and per-class P/R/F1, on three classes."""
    g = [fold_label(x) for x in gold]
    p = [fold_label(x) for x in pred]
    per_class: dict[str, dict[str, float]] = {}
    for c in THREE_CLASSES:
        tp = sum(1 for a, b in zip(g, p, strict=True) if a == c and b == c)
        fp = sum(1 for a, b in zip(g, p, strict=True) if a != c and b == c)
        fn = sum(1 for a, b in zip(g, p, strict=True) if a == c and b != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[c] = {
            "precision": round(prec, 4),
            "recall": round(rec, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    present = [c for c in THREE_CLASSES if per_class[c]["support"]]
    macro = sum(per_class[c]["f1"] for c in present) / len(present) if present else 0.0
    acc = sum(1 for a, b in zip(g, p, strict=True) if a == b) / len(g) if g else 0.0
    return {
        "n": len(g),
        "accuracy": round(acc, 4),
        "macro_f1": round(macro, 4),
        "per_class": per_class,
    }
