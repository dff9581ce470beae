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
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from nlp.metrics import classification_report
from nlp.sentiment.scorer import fold_label

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
def _vader_row(line: str, band: float = 0.05) -> tuple[str, str] | None:
    """``id<TAB>mean<TAB>text`` -> (text, label), or None for a line that is not a row."""
    parts = line.split("\t")
    if len(parts) < 3:
        return None
    try:
        mean = float(parts[1])
    except ValueError:
        return None
    label = _three(mean, band) if abs(mean) != band else "neutral"
    return "\t".join(parts[2:]).strip(), label


def _uci_row(line: str) -> tuple[str, str] | None:
    """``text<TAB>0|1`` -> (text, label), or None for a line that is not a row."""
    if "\t" not in line:
        return None
    text, lab = line.rsplit("\t", 1)
    if lab.strip() not in ("0", "1"):
        return None
    return text.strip(), "positive" if lab.strip() == "1" else "negative"


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
    sources = (
        ("vader_groundtruth", VADER_SETS, partial(_vader_row, band=vader_band)),
        ("uci_labelled_sentences", UCI_SETS, _uci_row),
    )
    for folder, files, parse in sources:
        for name, fname in files.items():
            path = base / folder / fname
            if not path.exists():
                continue
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
            rows = [row for row in map(parse, lines) if row is not None]
            sets[name] = ([text for text, _ in rows], [label for _, label in rows])
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
