"""Sentiment benchmark on the shared dev sets: ours vs VADER, asent and TextBlob.

    python benchmarks/sentiment_bench.py [--json] [--data ROOT] [--adapt-size 500]
        [--max-rows N] [--no-encoder]

``encoder (LOSO)`` is the default model's recipe (nlp/build_default.py) with the head trained
on the *other* public sets only (leave one set out): the packaged head has seen every set, so
scoring a set with it would report on its own training data. ``encoder+500`` adapts that head
to 500 rows of the set (nlp train) and is scored on the rest. ``encoder_speed`` compares the
encoder path's marginal CPU time per tweet with a plain ``SentenceTransformer.encode`` of the
same texts in the same run, and counts the texts where the int8 and full-precision encoders
give the head different labels.

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
from nlp.training import ModelInfo, train

RULES = {"sentiment_model": "rules"}


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

    nlp, sia = load_pipeline(sentiment_model="rules"), SentimentIntensityAnalyzer()
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


def loso_heads(root: Path, tmp: Path) -> dict[str, Path]:
    """Per public set, a head trained with the default recipe on the other sets only."""
    import numpy as np

    from nlp.build_default import CAP, SEED, C, public_features
    from nlp.sentiment.encoder_head import (
        CLASSES,
        RULE_PRIOR,
        class_weights,
        fit_head,
        save_head,
    )

    sets = load_shared_sentiment(root, vader_band=0.5)
    names, texts, labels = [], [], []
    for name in sorted(sets):
        t, lab = sets[name]
        pick = np.sort(np.random.default_rng(SEED).permutation(len(t))[:CAP])
        names += [name] * len(pick)
        texts += [t[i] for i in pick]
        labels += [CLASSES.index(lab[i]) for i in pick]
    x = public_features(texts)
    y, owner = np.asarray(labels), np.asarray(names)
    heads = {}
    for name in sorted(sets):
        keep = owner != name
        coef, intercept = fit_head(x[keep], y[keep], c=C, sample_weight=class_weights(y[keep]))
        heads[name] = tmp / name
        meta = {"version": f"encoder-v1-loso-{name}", "recipe": {"rule_prior": RULE_PRIOR}}
        save_head(heads[name], coef, intercept, meta)
    return heads


def encoder_speed(texts: list[str], rounds: int = 2, chunk: int = 128) -> dict[str, float]:
    """CPU seconds per 1000 texts: our encoder path (ONNX int8, length buckets, rules and
    head included) vs ``SentenceTransformer.encode`` alone, alternating on chunks after a
    warm-up (marginal cost: loading is left out); and the int8 vs fp32 label agreement."""
    from sentence_transformers import SentenceTransformer

    from nlp.encoders.minilm import MiniLMEncoder, model_dir
    from nlp.pipeline import load_pipeline
    from nlp.sentiment.encoder_head import DEFAULT_DIR, EncoderHead

    nlp = load_pipeline()
    st = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    list(nlp.pipe(texts[:chunk]))
    st.encode(texts[:chunk])
    ours = plain = 0.0
    for _ in range(rounds):
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            t = time.process_time()
            [d._.sentiment_label for d in nlp.pipe(part, batch_size=chunk)]
            ours += time.process_time() - t
            t = time.process_time()
            st.encode(part, batch_size=64, normalize_embeddings=True)
            plain += time.process_time() - t
    from nlp.sentiment.resources import load_resources
    from nlp.sentiment.scorer import Scorer

    # the labels the model gives (rule prior included), from each encoder
    head = EncoderHead.load(DEFAULT_DIR)
    analyses = [Scorer(load_resources()).analyze(t) for t in texts]
    int8 = head.predict(MiniLMEncoder().encode(texts), analyses).argmax(axis=1)
    fp32 = head.predict(MiniLMEncoder(quantized=False).encode(texts), analyses).argmax(axis=1)
    n = len(texts) * rounds
    return {
        "texts": len(texts),
        "ours_docs_per_cpu_s": round(n / ours, 1),
        "sentence_transformers_docs_per_cpu_s": round(n / plain, 1),
        "ratio": round(plain / ours, 2),
        "int8_fp32_label_agreement": round(float((int8 == fp32).mean()), 4),
    }


def _train_on(
    texts: list[str], gold: list[str], rows: list[int], out: Path, seed: int
) -> ModelInfo:
    """The adapted model (rules base) trained on `rows` of a set, saved in `out`."""
    return train([texts[i] for i in rows], [gold[i] for i in rows], out, seed=seed, base="rules")


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
            info = _train_on(texts, gold, fit, Path(tmp) / "m", seed)
            run = run_ours([texts[i] for i in test], info.path)
        for i, label in zip(test, run.labels, strict=True):
            pred[i] = label
    return classification_report(gold, pred)["macro_f1"]


def _sample(texts: list[str], gold: list[str], n: int, seed: int) -> tuple[list[str], list[str]]:
    if not n or len(texts) <= n:
        return texts, gold
    order = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in order], [gold[i] for i in order]


def bench(
    root: Path,
    adapt_size: int,
    seed: int,
    ceiling: bool = False,
    max_rows: int = 0,
    encoder: bool = True,
) -> dict:
    sets = load_shared_sentiment(root)
    results: dict = {"sets": {}}
    tmp_heads = tempfile.TemporaryDirectory()
    heads = loso_heads(root, Path(tmp_heads.name)) if encoder else {}
    for name, (texts, gold) in sets.items():
        texts, gold = _sample(texts, gold, max_rows, seed)
        rows = {}
        runs = [run_ours(texts, options=RULES), *run_baselines(texts)]
        if encoder:
            loso = run_ours(texts, heads[name])
            loso.name = "encoder (LOSO)"
            runs.insert(0, loso)
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
                info = _train_on(texts, gold, tr, Path(tmp) / "m", seed)
                adapted = run_ours(te_texts, info.path)
                pairs = [(f"feedbackloop+{adapt_size}", adapted)]
                if encoder:
                    from nlp.training import train_encoder_head

                    enc = train_encoder_head(
                        [texts[i] for i in tr],
                        [gold[i] for i in tr],
                        Path(tmp) / "e",
                        seed=seed,
                        base_dir=heads[name],
                    )
                    pairs.append((f"encoder+{adapt_size}", run_ours(te_texts, enc.path)))
                    pairs.append(
                        ("encoder (LOSO, same rest rows)", run_ours(te_texts, heads[name]))
                    )
            rules_rest = run_ours(te_texts, options=RULES)
            for label, run in (
                *pairs,
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
            cpu = cpu_ratio(texts) if not encoder else None
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
    results["support_requests"] = support_request_check(root, options=RULES)
    if encoder:
        results["support_requests_encoder"] = support_request_check(root)
        tweets = [t for t in sets["vader_tweets"][0] if 20 <= len(t) <= 280]
        results["encoder_speed"] = encoder_speed(_sample(tweets, tweets, 1000, seed)[0])
    tmp_heads.cleanup()
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
    ap.add_argument("--max-rows", type=int, default=0, help="seeded sample per set (0: all)")
    ap.add_argument("--no-encoder", action="store_true", help="rules and baselines only")
    args = ap.parse_args()
    if not (args.data / "sentiment").is_dir():
        print(f"skipped: {args.data / 'sentiment'} not found", file=sys.stderr)
        return 0
    results = bench(
        args.data,
        args.adapt_size,
        args.seed,
        args.ceiling,
        max_rows=args.max_rows,
        encoder=not args.no_encoder,
    )
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
    speed = results.get("encoder_speed")
    if speed:
        print(
            f"\nencoder path vs SentenceTransformer.encode, {speed['texts']} tweets, CPU time: "
            f"{speed['ours_docs_per_cpu_s']:.0f} vs "
            f"{speed['sentence_transformers_docs_per_cpu_s']:.0f} docs/CPU-s = "
            f"{speed['ratio']:.2f}x; int8 vs fp32 labels agree on "
            f"{speed['int8_fp32_label_agreement']:.1%}"
        )
    for key, who in (("support_requests", "rules"), ("support_requests_encoder", "encoder")):
        check = results.get(key)
        if not check:
            continue
        print(
            f"\nBitext customer-service intents ({who}): {check['requests_neutral']:.1%} of "
            f"{check['requests']} plain requests neutral ({check['requests_positive']:.1%} "
            f"positive, {check['requests_negative']:.1%} negative); "
            f"{check['problems_negative']:.1%} of {check['problem_reports']} problem "
            "reports negative"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
