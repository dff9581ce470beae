"""Evaluation of the sentiment scorer: metrics, baselines and the shared dev datasets.

Metrics are computed on three classes (five levels folded). Macro-F1 averages over the
classes present in the gold labels (so on two-class sets such as UCI a "neutral"
prediction is simply a miss, it does not add a zero-F1 third class).
Baselines (VADER, asent, TextBlob) are optional imports and run in this same process.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from nlp.sentiment.scorer import THREE_CLASSES, fold_label

DEFAULT_DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
VADER_SETS = {
    "vader_tweets": "tweets_GroundTruth.txt",
    "vader_amazon": "amazonReviewSnippets_GroundTruth.txt",
    "vader_movie": "movieReviewSnippets_GroundTruth.txt",
    "vader_nyt": "nytEditorialSnippets_GroundTruth.txt",
}
UCI_SETS = {
    "uci_amazon": "amazon_cells_labelled.txt",
    "uci_yelp": "yelp_labelled.txt",
    "uci_imdb": "imdb_labelled.txt",
}


# -- metrics ----------------------------------------------------------------------------
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


# -- systems ----------------------------------------------------------------------------
@dataclass
class SystemRun:
    name: str
    version: str
    labels: list[str]
    seconds: float

    @property
    def docs_per_s(self) -> float:
        return len(self.labels) / self.seconds if self.seconds > 0 else float("inf")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _three(score: float, band: float) -> str:
    return "positive" if score >= band else "negative" if score <= -band else "neutral"


def run_ours(
    texts: Sequence[str],
    model_dir: str | Path | None = None,
    batch_size: int = 1000,
    options: dict[str, Any] | None = None,
) -> SystemRun:
    """Our pipeline on ``texts``; ``options``: ``load_pipeline`` keywords (sentiment_model,
    encoder_cache)."""
    from nlp.pipeline import load_pipeline

    nlp = load_pipeline(model_dir, **(options or {}))
    start = time.perf_counter()
    labels = [fold_label(d._.sentiment_label) for d in nlp.pipe(texts, batch_size=batch_size)]
    seconds = time.perf_counter() - start
    version = nlp.get_pipe("feedback_sentiment_v1").version
    return SystemRun("feedbackloop", version, labels, seconds)


def _vader() -> tuple[str, Callable[[Sequence[str]], list[str]]] | None:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    sia = SentimentIntensityAnalyzer()
    # VADER's README: compound >= 0.05 positive, <= -0.05 negative
    return _version("vaderSentiment"), lambda ts: [
        _three(sia.polarity_scores(t)["compound"], 0.05) for t in ts
    ]


def _asent() -> tuple[str, Callable[[Sequence[str]], list[str]]] | None:
    try:
        import asent  # noqa: F401  (registers asent_en_v1)
        import spacy
    except ImportError:
        return None
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("asent_en_v1")
    return _version("asent"), lambda ts: [
        _three(d._.polarity.compound, 0.05) for d in nlp.pipe(ts, batch_size=1000)
    ]


def _textblob() -> tuple[str, Callable[[Sequence[str]], list[str]]] | None:
    try:
        from textblob.en.sentiments import PatternAnalyzer
    except ImportError:
        return None
    analyzer = PatternAnalyzer()  # lexicon bundled with TextBlob: no corpus download
    # Pattern polarity is 0.0 exactly when no sentiment word is found
    return _version("textblob"), lambda ts: [_three(analyzer.analyze(t).polarity, 1e-9) for t in ts]


BASELINES: dict[str, Callable[[], tuple[str, Callable[[Sequence[str]], list[str]]] | None]] = {
    "vader": _vader,
    "asent": _asent,
    "textblob": _textblob,
}


def run_baselines(texts: Sequence[str]) -> list[SystemRun]:
    runs = []
    for name, factory in BASELINES.items():
        built = factory()
        if built is None:
            continue
        version, predict = built
        start = time.perf_counter()
        labels = predict(texts)
        runs.append(SystemRun(name, version, labels, time.perf_counter() - start))
    return runs


def evaluate(
    texts: Sequence[str],
    gold: Sequence[str],
    *,
    model_dir: str | Path | None = None,
    baselines: bool = False,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score ``texts`` with our pipeline (and baselines) and report metrics per system."""
    runs = [run_ours(texts, model_dir, options=options)]
    if baselines:
        runs.extend(run_baselines(texts))
    out: dict[str, Any] = {"n": len(texts), "systems": {}}
    for run in runs:
        report = classification_report(gold, run.labels)
        report["docs_per_s"] = round(run.docs_per_s, 1)
        report["version"] = run.version
        out["systems"][run.name] = report
    return out


# -- shared development data (never copied into the repo) -------------------------------
def load_shared_sentiment(
    root: str | Path | None = None, *, vader_band: float = 0.05
) -> dict[str, tuple[list[str], list[str]]]:
    """Load the labelled sentence sets from ``<root>/sentiment`` (see its README).

    VADER ground truth: mean rating -4..4 split at +-``vader_band`` into three classes (0.05,
    its README, for evaluation; the encoder head trains on +-0.5, see nlp.build_default).
    UCI: 0/1 labels; split on "\\n" only because the IMDB file contains U+0085.
    Returns {} when the folder is missing.
    """
    base = Path(root) if root else DEFAULT_DATA_ROOT
    base = base / "sentiment"
    sets: dict[str, tuple[list[str], list[str]]] = {}
    vdir = base / "vader_groundtruth"
    for name, fname in VADER_SETS.items():
        path = vdir / fname
        if not path.exists():
            continue
        texts, labels = [], []
        for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            try:
                mean = float(parts[1])
            except ValueError:
                continue
            texts.append("\t".join(parts[2:]).strip())
            labels.append(_three(mean, vader_band) if abs(mean) != vader_band else "neutral")
        sets[name] = (texts, labels)
    udir = base / "uci_labelled_sentences"
    for name, fname in UCI_SETS.items():
        path = udir / fname
        if not path.exists():
            continue
        texts, labels = [], []
        for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
            if "\t" not in line:
                continue
            text, lab = line.rsplit("\t", 1)
            if lab.strip() not in ("0", "1"):
                continue
            texts.append(text.strip())
            labels.append("positive" if lab.strip() == "1" else "negative")
        sets[name] = (texts, labels)
    return sets


# -- customer-service requests (Bitext intents, no sentiment labels) ---------------------
BITEXT_FILE = "intents/bitext_customer_support/Bitext_Sample_Customer_Support_Training_Dataset.csv"
# intents whose messages report a problem; the ones asking to cancel, delete or get money
# back are left out of both groups (annotators split on whether they are negative)
PROBLEM_INTENTS = frozenset({"complaint", "payment_issue", "registration_problems"})
UNCLEAR_INTENTS = frozenset({"cancel_order", "delete_account", "get_refund", "track_refund"})


def support_request_check(
    root: str | Path | None = None, options: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """How our rules read customer-service messages with a known intent: the share of plain
    requests ("I want help to edit my order") labelled neutral, and of problem reports
    labelled negative. A domain check for false alarms, not a sentiment gold standard.
    None when the Bitext file is missing."""
    path = (Path(root) if root else DEFAULT_DATA_ROOT) / BITEXT_FILE
    if not path.exists():
        return None
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["instruction"], r["intent"]) for r in csv.DictReader(fh)]
    labels = run_ours([t for t, _ in rows], options=options).labels
    requests, problems = [], []
    for (_, intent), lab in zip(rows, labels, strict=True):
        if intent in PROBLEM_INTENTS:
            problems.append(lab)
        elif intent not in UNCLEAR_INTENTS:
            requests.append(lab)
    return {
        "requests": len(requests),
        "requests_neutral": round(requests.count("neutral") / len(requests), 3),
        "requests_positive": round(requests.count("positive") / len(requests), 3),
        "requests_negative": round(requests.count("negative") / len(requests), 3),
        "problem_reports": len(problems),
        "problems_negative": round(problems.count("negative") / len(problems), 3),
    }
