"""Sentiment benchmark on the shared dev sets: ours vs VADER, asent and TextBlob.

    python benchmarks/sentiment_bench.py [--json] [--data ROOT] [--adapt-size 500]

Everything runs in this one process on the same rows. Also reports ours "adapted": trained
on --adapt-size seeded rows of each set and evaluated on the rest (next to ours and VADER
on exactly those rest rows). Exits 0 with a note when the data folder is missing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.evaluation import (
    DEFAULT_DATA_ROOT,
    classification_report,
    load_shared_sentiment,
    run_baselines,
    run_ours,
    support_request_check,
)
from nlp.training import train


def cpu_ratio(texts: list[str], rounds: int = 3, chunk: int = 250) -> dict[str, float] | None:
    """VADER's CPU time over ours (>1: we are faster) on the same rows, the systems
    alternating on chunks so that all see the same machine load; steadier than one
    wall-clock pass of each. ``floor``: our pipeline with the sentiment component disabled
    (tokenizer, Doc, spaCy's pipe), as a share of VADER's time: what no scorer can win back."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    from nlp.pipeline import load_pipeline

    nlp, sia = load_pipeline(), SentimentIntensityAnalyzer()
    list(nlp.pipe(texts[:chunk]))  # warm the per-process caches, as a long run would
    ours = vader = floor = 0.0
    for _ in range(rounds):
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            t = time.process_time()
            [d._.sentiment_label for d in nlp.pipe(part)]
            ours += time.process_time() - t
            t = time.process_time()
            [sia.polarity_scores(x)["compound"] for x in part]
            vader += time.process_time() - t
            with nlp.select_pipes(disable=["feedback_sentiment_v1"]):
                t = time.process_time()
                [d._.sentiment_label for d in nlp.pipe(part)]
                floor += time.process_time() - t
    if not ours or not vader:
        return None
    return {"speed": round(vader / ours, 2), "floor": round(floor / vader, 2)}


def supervised_ceiling(texts: list[str], gold: list[str], seed: int, folds: int = 5) -> float:
    """Macro-F1 of the adapted model trained on (folds-1)/folds of the set's own labels and
    evaluated on the rest, every row predicted once: what this model family reaches with
    thousands of in-domain labels, for scale next to the out-of-the-box figure."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    pred = [""] * len(texts)
    for f in range(folds):
        test = order[f::folds]
        held = set(test)
        fit = [i for i in order if i not in held]
        with tempfile.TemporaryDirectory() as tmp:
            info = train(
                [texts[i] for i in fit], [gold[i] for i in fit], Path(tmp) / "m", seed=seed
            )
            run = run_ours([texts[i] for i in test], info.path)
        for i, label in zip(test, run.labels, strict=True):
            pred[i] = label
    return classification_report(gold, pred)["macro_f1"]


def bench(root: Path, adapt_size: int, seed: int, ceiling: bool = False) -> dict:
    sets = load_shared_sentiment(root)
    results: dict = {"sets": {}}
    for name, (texts, gold) in sets.items():
        rows = {}
        runs = [run_ours(texts), *run_baselines(texts)]
        for run in runs:
            rep = classification_report(gold, run.labels)
            rows[run.name] = {
                "version": run.version,
                "macro_f1": rep["macro_f1"],
                "accuracy": rep["accuracy"],
                "docs_per_s": round(run.docs_per_s),
            }
        if adapt_size and len(texts) >= adapt_size * 2:
            order = list(range(len(texts)))
            random.Random(seed).shuffle(order)
            tr, te = order[:adapt_size], order[adapt_size:]
            te_texts, te_gold = [texts[i] for i in te], [gold[i] for i in te]
            with tempfile.TemporaryDirectory() as tmp:
                info = train(
                    [texts[i] for i in tr], [gold[i] for i in tr], Path(tmp) / "m", seed=seed
                )
                adapted = run_ours(te_texts, info.path)
            rules_rest = run_ours(te_texts)
            for label, run in (
                (f"feedbackloop+{adapt_size}", adapted),
                ("feedbackloop (same rest rows)", rules_rest),
            ):
                rep = classification_report(te_gold, run.labels)
                rows[label] = {
                    "version": run.version,
                    "macro_f1": rep["macro_f1"],
                    "accuracy": rep["accuracy"],
                    "docs_per_s": round(run.docs_per_s),
                }
            vader = [r for r in run_baselines(te_texts) if r.name == "vader"]
            if vader:
                rep = classification_report(te_gold, vader[0].labels)
                rows["vader (same rest rows)"] = {
                    "version": vader[0].version,
                    "macro_f1": rep["macro_f1"],
                    "accuracy": rep["accuracy"],
                    "docs_per_s": round(vader[0].docs_per_s),
                }
        results["sets"][name] = {"n": len(texts), "systems": rows}
        if "vader" in rows and rows["vader"]["docs_per_s"]:
            # the speed target: our nlp.pipe docs/s over VADER's, same rows, same process
            results["sets"][name]["speed_vs_vader"] = round(
                rows["feedbackloop"]["docs_per_s"] / rows["vader"]["docs_per_s"], 2
            )
            cpu = cpu_ratio(texts)
            if cpu:
                results["sets"][name]["cpu_speed_vs_vader"] = cpu["speed"]
                results["sets"][name]["floor_share_of_vader"] = cpu["floor"]
        if ceiling:
            results["sets"][name]["supervised_5fold_macro_f1"] = supervised_ceiling(
                texts, gold, seed
            )
    systems = {s for r in results["sets"].values() for s in r["systems"]}
    results["mean_macro_f1"] = {
        s: round(
            sum(r["systems"][s]["macro_f1"] for r in results["sets"].values() if s in r["systems"])
            / max(1, sum(1 for r in results["sets"].values() if s in r["systems"])),
            4,
        )
        for s in sorted(systems)
    }
    # customer-service messages with a known intent (no sentiment labels): false alarms
    results["support_requests"] = support_request_check(root)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--adapt-size", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--ceiling",
        action="store_true",
        help="also train on 80%% of each set's own labels (5-fold) for scale (slow)",
    )
    args = ap.parse_args()
    if not (args.data / "sentiment").is_dir():
        print(f"skipped: {args.data / 'sentiment'} not found", file=sys.stderr)
        return 0
    results = bench(args.data, args.adapt_size, args.seed, args.ceiling)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, res in results["sets"].items():
        print(f"\n{name} (n={res['n']})")
        print(f"  {'system':32} {'version':40} {'macro-F1':>8} {'acc':>6} {'docs/s':>8}")
        for sys_name, r in res["systems"].items():
            print(
                f"  {sys_name:32} {r['version'][:40]:40} {r['macro_f1']:8.3f} "
                f"{r['accuracy']:6.3f} {r['docs_per_s']:8d}"
            )
        if "speed_vs_vader" in res:
            print(f"  feedbackloop docs/s / vader docs/s: {res['speed_vs_vader']:.2f}")
        if "supervised_5fold_macro_f1" in res:
            print(
                "  ours trained on 80% of this set (5-fold): "
                f"{res['supervised_5fold_macro_f1']:.3f}"
            )
        if res.get("cpu_speed_vs_vader"):
            print(f"  VADER CPU time / ours, alternating chunks: {res['cpu_speed_vs_vader']:.2f}")
            print(
                "  ours without the scorer (tokenizer, Doc, pipe), share of VADER's CPU time: "
                f"{res['floor_share_of_vader']:.2f}"
            )
    print("\nmean macro-F1 over sets:")
    for s, v in results["mean_macro_f1"].items():
        print(f"  {s:32} {v:.3f}")
    check = results["support_requests"]
    if check:
        print(
            f"\nBitext customer-service intents: {check['requests_neutral']:.1%} of "
            f"{check['requests']} plain requests neutral ({check['requests_positive']:.1%} "
            f"positive, {check['requests_negative']:.1%} negative); "
            f"{check['problems_negative']:.1%} of {check['problem_reports']} problem "
            "reports negative"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
