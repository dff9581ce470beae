"""Topic clustering on the shared intent sets: NMI, ARI, candidate purity, label recall,
outlier share and texts/s, for the light encoder and (when installed) minilm.

    python benchmarks/topics_bench.py [--json] [--data ROOT] [--sample 12000] [--seed 0]
                                      [--intents all,tune,report] [--encoders light,minilm]

Each set is sampled to at most --sample rows with a fixed seed so the run takes a few minutes
on 2 cores; texts/s covers encoding (with the light encoder's fit) and clustering. Exits 0
with a note when the data folder is missing, and skips minilm, saying so, without the
embeddings extra. ``--intents``: every intent, and the halves of the intents the defaults were
tuned on (``tune``) and are reported on (``report``; nlp/topics/datasets.py ``intent_half``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.topics.batch import DEFAULT_MIN_CLUSTER_SIZE, cluster_texts
from nlp.topics.clustering import DEFAULT_PARAMS
from nlp.topics.datasets import DEFAULT_INTENTS_ROOT, intent_half, load_intent_sets
from nlp.topics.encoders import EXTRA_HINT, make_encoder, minilm_available
from nlp.topics.metrics import evaluate

HALVES = {"tune": 0, "report": 1}


def bench(
    root: Path,
    sample: int,
    seed: int,
    min_size: int,
    intents: list[str] | None = None,
    wanted: list[str] | None = None,
) -> dict:
    loaded = load_intent_sets(root, sample=sample, seed=seed)
    sets: dict[str, tuple[list[str], list[str]]] = {}
    for name, (texts, labels) in loaded.items():
        for which in intents or ["all"]:
            if which == "all":
                sets[name] = (texts, labels)
            else:
                sets[f"{name} ({which} half)"] = intent_half(texts, labels, HALVES[which])
    wanted = wanted or ["light", "minilm"]
    encoders = [e for e in wanted if e != "minilm" or minilm_available()]
    results: dict = {"sample": sample, "seed": seed, "min_cluster_size": min_size, "sets": {}}
    if "minilm" in wanted and "minilm" not in encoders:
        results["skipped"] = {"minilm": f"embeddings extra not installed ({EXTRA_HINT})"}
    for name, (texts, labels) in sets.items():
        rows = {}
        for enc in encoders:
            encoder = make_encoder(enc)
            encoder.encode(texts[:8])  # load the model outside the timing
            cpu = time.process_time()
            encoder.encode(texts)
            encode_cpu = time.process_time() - cpu
            run = cluster_texts(texts, encoder=enc, min_cluster_size=min_size)
            scores = evaluate(labels, run.labels.tolist(), min_size)
            rows[enc] = {
                "version": run.encoder,
                **scores.as_dict(),
                "texts_per_s": run.texts_per_s,
                "texts_per_cpu_s": len(texts) / max(run.cpu_seconds, 1e-9),
                "encode_texts_per_cpu_s": len(texts) / max(encode_cpu, 1e-9),
                "params": DEFAULT_PARAMS[enc].__dict__,
            }
        results["sets"][name] = {"n": len(texts), "labels": len(set(labels)), "runs": rows}
    return results


def markdown(results: dict) -> str:
    lines = []
    for name, data in results["sets"].items():
        lines.append(
            f"### {name}: {data['n']} texts, {data['labels']} labels "
            f"(min cluster size {results['min_cluster_size']})\n"
        )
        lines.append(
            "| encoder | NMI | ARI | NMI clustered | purity | recall | outliers | clusters "
            "(candidates) | texts/s (wall) | texts/CPU-s: all | encode only |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in data["runs"].values():
            lines.append(
                f"| {r['version']} | {r['nmi']:.3f} | {r['ari']:.3f} | {r['nmi_clustered']:.3f} "
                f"| {r['candidate_purity']:.3f} | {r['label_recall']:.3f} "
                f"| {r['outlier_share']:.1%} | {r['clusters']} ({r['candidates']}) "
                f"| {r['texts_per_s']:,.0f} | {r['texts_per_cpu_s']:,.0f} "
                f"| {r['encode_texts_per_cpu_s']:,.0f} |"
            )
        lines.append("")
    for enc, why in results.get("skipped", {}).items():
        lines.append(f"{enc}: skipped, {why}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_INTENTS_ROOT)
    parser.add_argument("--sample", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-cluster-size", type=int, default=DEFAULT_MIN_CLUSTER_SIZE)
    parser.add_argument("--intents", default="all,report", help="all, tune, report (comma list)")
    parser.add_argument("--encoders", default="light,minilm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    intents = [x for x in args.intents.split(",") if x]
    if any(x not in ("all", *HALVES) for x in intents):
        parser.error("--intents takes all, tune and report")
    if not args.data.is_dir():
        print(f"topics bench: {args.data} not found; skipped")
        return 0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)
    results = bench(
        args.data,
        args.sample,
        args.seed,
        args.min_cluster_size,
        intents,
        [x for x in args.encoders.split(",") if x],
    )
    if not results["sets"]:
        print(f"topics bench: no intent set under {args.data}; skipped")
        return 0
    print(json.dumps(results, indent=2) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
