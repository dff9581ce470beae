"""Rebuild the packaged encoder sentiment head (``nlp/models/sentiment_encoder_v1``).

    python -m nlp.build_default [--data-root ../shared/data] [--output DIR]
    feedbackloop nlp build-default   (the same)

Recipe (deterministic; written to meta.json with the data files' sha256):
  * data: the shared public sentiment sets (``<data-root>/sentiment``): the four VADER
    ground-truth sets, mean rating split at +-0.5 on its -4..4 scale into three classes, and
    the three UCI sets (two classes); at most ``CAP`` texts per set, a seeded random choice,
    so the 10,605 movie snippets do not outweigh the other domains;
  * features: MiniLM sentence vectors (full-precision ONNX export of the packaged model),
    the rule scorer's score and frustration flag;
  * head: multinomial logistic regression, L2 with ``C``, rows weighted by the square root
    of the balanced class weight (``CLASS_WEIGHT``).
The same inputs give the same head.npz bytes (fixed zip times, float32).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from nlp.evaluation import DEFAULT_DATA_ROOT, UCI_SETS, VADER_SETS, load_shared_sentiment
from nlp.sentiment.encoder_head import (
    CLASSES,
    DEFAULT_DIR,
    RULE_FEATURES,
    RULE_PRIOR,
    class_weights,
    features,
    fit_head,
    rule_features,
    save_head,
)

VERSION = "encoder-v1"
CAP = 2000
SEED = 0
TRAIN_BAND = 0.5
C = 0.3
CLASS_WEIGHT = "sqrt-balanced"


def public_training_set(
    root: str | Path | None = None, *, cap: int = CAP, seed: int = SEED
) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Texts and class indices of the public sets (the recipe above), and what was used."""
    base = Path(root) if root else DEFAULT_DATA_ROOT
    sets = load_shared_sentiment(base, vader_band=TRAIN_BAND)
    if not sets:
        raise FileNotFoundError(f"no shared sentiment data under {base / 'sentiment'}")
    texts: list[str] = []
    labels: list[int] = []
    used: dict[str, Any] = {}
    files = {**{k: ("vader_groundtruth", v) for k, v in VADER_SETS.items()}}
    files.update({k: ("uci_labelled_sentences", v) for k, v in UCI_SETS.items()})
    for name in sorted(sets):
        t, lab = sets[name]
        pick = np.sort(np.random.default_rng(seed).permutation(len(t))[:cap])
        texts.extend(t[i] for i in pick)
        labels.extend(CLASSES.index(lab[i]) for i in pick)
        folder, fname = files[name]
        data = (base / "sentiment" / folder / fname).read_bytes()
        used[name] = {
            "file": f"sentiment/{folder}/{fname}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(t),
            "used": len(pick),
        }
    return texts, np.asarray(labels), used


def public_features(texts: list[str], cache_dir: str | Path | None = None) -> np.ndarray:
    from nlp.encoders.minilm import MiniLMEncoder
    from nlp.sentiment.resources import load_resources
    from nlp.sentiment.scorer import Scorer

    scorer = Scorer(load_resources())
    rules = rule_features([scorer.analyze(t) for t in texts])
    emb = MiniLMEncoder(cache_dir, quantized=False).encode(texts)
    return features(emb, rules)


def build(
    output: str | Path = DEFAULT_DIR,
    *,
    data_root: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    from nlp.encoders.minilm import MODEL_NAME, weights_digest
    from nlp.sentiment.component import RULES_VERSION

    texts, y, used = public_training_set(data_root)
    x = public_features(texts, cache_dir)
    coef, intercept = fit_head(x, y, c=C, sample_weight=class_weights(y))
    meta = {
        "version": VERSION,
        "encoder": {"model": MODEL_NAME, "weights_sha256": weights_digest(), "export": "fp32"},
        "rules": RULES_VERSION,
        "features": ["minilm_unit_vector[384]", *RULE_FEATURES],
        "classes": list(CLASSES),
        "recipe": {
            "vader_band": TRAIN_BAND,
            "cap_per_set": CAP,
            "seed": SEED,
            "C": C,
            "class_weight": CLASS_WEIGHT,
            "rule_prior": RULE_PRIOR,
            "solver": "L-BFGS-B, multinomial, L2 on weights",
        },
        "data": used,
        "n_train": len(texts),
        "class_counts": {c: int((y == i).sum()) for i, c in enumerate(CLASSES)},
        "rebuild": "feedbackloop nlp build-default (or python -m nlp.build_default)",
    }
    save_head(Path(output), coef, intercept, meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None, help="folder holding sentiment/ (shared data)")
    ap.add_argument("--output", default=str(DEFAULT_DIR))
    ap.add_argument("--cache-dir", default=None, help="where the ONNX export is kept")
    args = ap.parse_args(argv)
    try:
        meta = build(args.output, data_root=args.data_root, cache_dir=args.cache_dir)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"version": meta["version"], "n_train": meta["n_train"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
