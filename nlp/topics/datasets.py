"""The shared intent sets (``../shared/data/intents``) as (texts, labels), sampled with a seed.

CLINC150: the in-scope queries of train + val + test (150 intents, 150 each; out-of-scope
queries have no intent to recover). Bitext customer support: every instruction with its intent
(27 intents). Files are read where they are and never copied.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

DEFAULT_INTENTS_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "intents"
CLINC = Path("clinc150") / "data_full.json"
BITEXT = Path("bitext_customer_support") / "Bitext_Sample_Customer_Support_Training_Dataset.csv"


def _sample(rows: list[tuple[str, str]], n: int | None, seed: int) -> tuple[list[str], list[str]]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    if n is not None:
        rows = rows[:n]
    return [r[0] for r in rows], [r[1] for r in rows]


def load_intent_sets(
    root: Path = DEFAULT_INTENTS_ROOT, *, sample: int | None = None, seed: int = 0
) -> dict[str, tuple[list[str], list[str]]]:
    """Every set found under ``root`` (missing ones are left out), ``sample`` rows each."""
    sets: dict[str, tuple[list[str], list[str]]] = {}
    if (root / CLINC).exists():
        data = json.loads((root / CLINC).read_text(encoding="utf-8"))
        rows = [(t, lab) for part in ("train", "val", "test") for t, lab in data[part]]
        sets["clinc150"] = _sample(rows, sample, seed)
    if (root / BITEXT).exists():
        with (root / BITEXT).open(newline="", encoding="utf-8") as fh:
            rows = [(r["instruction"], r["intent"]) for r in csv.DictReader(fh)]
        sets["bitext"] = _sample(rows, sample, seed)
    return sets


def intent_half(
    texts: list[str], labels: list[str], part: int, seed: int = 1
) -> tuple[list[str], list[str]]:
    """The texts of one half of the intents (0: the half the clustering defaults were tuned
    on, 1: the half they are reported on), so no figure comes from the set it was tuned on."""
    intents = sorted(set(labels))
    random.Random(seed).shuffle(intents)
    keep = set(intents[: len(intents) // 2] if part == 0 else intents[len(intents) // 2 :])
    rows = [(t, lab) for t, lab in zip(texts, labels, strict=True) if lab in keep]
    return [t for t, _ in rows], [lab for _, lab in rows]
