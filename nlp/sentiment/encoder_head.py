"""Encoder-backed sentiment: MiniLM sentence vectors + the rule prior, a logistic head.

Features per text: the unit MiniLM vector (``nlp.encoders.minilm``), the rule scorer's score
and its frustration flag. The head is a multinomial logistic regression (numpy/scipy) over
three classes; it is small (387 x 3 numbers), so it ships in the repo
(``nlp/models/sentiment_encoder_v1``) and adapted heads trained on reviewed labels are a few
kilobytes under the state dir. The encoder itself is never trained here: it is the packaged
model, exported to ONNX on first use.

Files of a head directory: ``meta.json`` (``kind: encoder-head``, version, recipe) and
``head.npz`` (``coef`` DIM+2 x 3, ``intercept`` 3).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from nlp.sentiment.saved_model import SavedModel
from nlp.sentiment.scorer import Analysis

CLASSES = ("negative", "neutral", "positive")
KIND = "encoder-head"
HEAD_FORMAT = 1
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "models" / "sentiment_encoder_v1"
RULE_FEATURES = ("rule_score", "rule_frustrated")
EXPLAIN_TOP = 3  # words named per text from the encoder's side
ENCODER_CHARS = 4000  # well past the encoder's 256 word pieces
# The rules' own label, one-hot, mixed into the head's probabilities with this weight (the
# "rule prior"): out of domain it was worth +0.005 mean macro-F1 and kept support requests
# neutral and problem reports negative about as often as the rules do (docs/decisions.md).
RULE_PRIOR = 0.25


def rule_features(analyses: Sequence[Analysis]) -> np.ndarray:
    return np.asarray([[a.score, float(a.frustrated)] for a in analyses], dtype=np.float32)


def features(emb: np.ndarray, rules: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(emb, dtype=np.float64), np.asarray(rules, dtype=np.float64)])


def class_weights(y: np.ndarray, power: float = 0.5) -> np.ndarray:
    """Row weights: (balanced class weight) ** power. 0.5 measured best out of domain
    (leave-one-set-out, docs/decisions.md): 1.0 over-predicts neutral on the two-class sets,
    0.0 reads support requests as complaints."""
    counts = np.bincount(y, minlength=len(CLASSES)).astype(float)
    w = (len(y) / (len(CLASSES) * np.maximum(counts, 1.0))) ** power
    return w[y]


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    *,
    c: float,
    sample_weight: np.ndarray | None = None,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, L2 ``1/c`` on the weights (not the intercept),
    towards ``init`` when given: an adapted head stays near its base, intercept included
    (a free intercept let 50 two-class labels wipe out the neutral class elsewhere).
    Deterministic: L-BFGS from a fixed start."""
    from scipy import optimize

    n, d = x.shape
    k = len(CLASSES)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    w0 = np.zeros((d, k)) if init is None else np.asarray(init[0], dtype=np.float64)
    b0 = np.zeros(k) if init is None else np.asarray(init[1], dtype=np.float64)
    lam = 1.0 / c

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat[: d * k].reshape(d, k)
        b = flat[d * k :]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        diff = w - w0
        bdiff = (b - b0) if init is not None else np.zeros(k)
        value = -(sw[:, None] * onehot * logp).sum() + 0.5 * lam * (diff * diff).sum()
        value += 0.5 * lam * float(bdiff @ bdiff)
        g = sw[:, None] * (np.exp(logp) - onehot)
        grad_w = x.T @ g + lam * diff
        return float(value), np.concatenate([grad_w.ravel(), g.sum(axis=0) + lam * bdiff])

    start = np.concatenate([w0.ravel(), b0])
    res = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return res.x[: d * k].reshape(d, k), res.x[d * k :]


def with_rule_prior(p: np.ndarray, analyses: Sequence[Analysis], weight: float) -> np.ndarray:
    """(1 - weight) * the head's probabilities + weight * the rules' label, one-hot."""
    if not weight:
        return p
    rules = np.zeros_like(p)
    rules[np.arange(len(analyses)), [CLASSES.index(a.label3) for a in analyses]] = 1.0
    return (1.0 - weight) * p + weight * rules


def proba(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    z = x @ coef + intercept
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


class EncoderHead(SavedModel):
    """A loaded head; the component runs the encoder and calls ``proba``."""

    kind = KIND
    ARRAYS = "head.npz"
    DESCRIPTION = "encoder sentiment head"

    def __init__(
        self,
        coef: np.ndarray,
        intercept: np.ndarray,
        meta: dict[str, Any],
        files: dict[str, bytes] | None = None,
    ) -> None:
        super().__init__(meta, files)
        self.coef = coef
        self.intercept = intercept

    @classmethod
    def readable(cls, meta: Mapping[str, Any]) -> bool:
        return meta.get("kind") == KIND and meta.get("format_version") == HEAD_FORMAT

    @classmethod
    def from_arrays(cls, arrays: Any, meta: dict[str, Any], files: dict[str, bytes]) -> Self:
        return cls(arrays["coef"], arrays["intercept"], meta, files)

    @property
    def rule_prior(self) -> float:
        """Weight of the rules' label (0 for heads saved before it existed)."""
        return float(self.meta.get("recipe", {}).get("rule_prior", 0.0))

    def predict(self, emb: np.ndarray, analyses: Sequence[Analysis]) -> np.ndarray:
        """Class probabilities for texts the rules analysed, the rule prior mixed in."""
        p = self.proba(emb, rule_features(analyses))
        return with_rule_prior(p, analyses, self.rule_prior)

    @property
    def emb_coef(self) -> np.ndarray:
        """The weights of the sentence-vector columns (for word shares)."""
        return self.coef[: -len(RULE_FEATURES)]

    def proba(self, emb: np.ndarray, rules: np.ndarray) -> np.ndarray:
        return proba(features(emb, rules), self.coef, self.intercept)


def save_head(
    out: Path, coef: np.ndarray, intercept: np.ndarray, meta: dict[str, Any]
) -> dict[str, bytes]:
    """Write ``head.npz`` and ``meta.json`` byte-for-byte reproducibly (no timestamps in the
    npz: rebuilding gives the same file)."""
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    # np.savez stamps the zip entries with the time: write the same layout with a fixed one
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in (("coef", coef), ("intercept", intercept)):
            data = io.BytesIO()
            np.lib.format.write_array(data, np.asarray(arr, dtype=np.float32), allow_pickle=False)
            zf.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), data.getvalue()
            )
    meta = {"kind": KIND, "format_version": HEAD_FORMAT, **meta}
    files = {
        "head.npz": buf.getvalue(),
        "meta.json": (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    return files


def is_encoder_head(path: Path) -> bool:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("kind") == KIND
