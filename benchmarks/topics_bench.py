"""Topic clustering on the shared intent sets: NMI, ARI, candidate purity, label recall,
outlier share and texts/s, for the light encoder and (when installed) minilm.

    python benchmarks/topics_bench.py [--json] [--data ROOT] [--sample 12000] [--seed 0]

Each set is sampled to at most --sample rows with a fixed seed so the run takes a few minutes
on 2 cores; texts/s covers encoding (with the light encoder's fit) and clustering. Exits 0
with a note when the data folder is missing, and skips minilm, saying so, without the
embeddings extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.topics.batch import DEFAULT_MIN_CLUSTER_SIZE, cluster_texts
from nlp.topics.clustering import DEFAULT_PARAMS
from nlp.topics.datasets import DEFAULT_INTENTS_ROOT, load_intent_sets
from nlp.topics.encoders import EXTRA_HINT, minilm_available
from nlp.topics.metrics import evaluate


def bench(root: Path, sample: int, seed: int, min_size: int) -> dict:
    sets = load_intent_sets(root, sample=sample, seed=seed)
    encoders = ["light"] + (["minilm"] if minilm_available() else [])
    results: dict = {"sample": sample, "seed": seed, "min_cluster_size": min_size, "sets": {}}
    if "minilm" not in encoders:
        results["skipped"] = {"minilm": f"embeddings extra not installed ({EXTRA_HINT})"}
    for name, (texts, labels) in sets.items():
        rows = {}
        for enc in encoders:
            run = cluster_texts(texts, encoder=enc, min_cluster_size=min_size)
            scores = evaluate(labels, run.labels.tolist(), min_size)
            rows[enc] = {
                "version": run.encoder,
                **scores.as_dict(),
                "texts_per_s": run.texts_per_s,
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
            "(candidates) | texts/s |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in data["runs"].values():
            lines.append(
                f"| {r['version']} | {r['nmi']:.3f} | {r['ari']:.3f} | {r['nmi_clustered']:.3f} "
                f"| {r['candidate_purity']:.3f} | {r['label_recall']:.3f} "
                f"| {r['outlier_share']:.1%} | {r['clusters']} ({r['candidates']}) "
                f"| {r['texts_per_s']:,.0f} |"
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"topics bench: {args.data} not found; skipped")
        return 0
    results = bench(args.data, args.sample, args.seed, args.min_cluster_size)
    if not results["sets"]:
        print(f"topics bench: no intent set under {args.data}; skipped")
        return 0
    print(json.dumps(results, indent=2) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
