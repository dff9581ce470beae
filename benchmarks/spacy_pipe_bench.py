"""``nlp.pipe(texts, n_process=N)`` throughput of the default pipeline, N = 1 vs 2.

    python benchmarks/spacy_pipe_bench.py [--n 20000] [--rounds 3] [--json] [--data ROOT]

Texts: the first --n rows of the shared sentiment sets (``../shared/data/sentiment``), or the
demo generator's feedback texts when that folder is missing. The pipeline is warmed on 500
texts first (as a long run would be); then the two settings alternate --rounds times so both
see the same machine load, and the best round of each is reported with every round's figure.
Also checks that both settings give the same results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp import load_pipeline
from nlp.evaluation import load_shared_sentiment


def demo_texts(n: int) -> list[str]:
    from demo.generator import generate

    texts: list[str] = []
    seed = 1
    while len(texts) < n:
        data = generate(seed=seed)
        texts.extend(t.description for t in data.tickets)
        texts.extend(c.body for c in data.comments)
        texts.extend(r.body for r in data.reviews)
        seed += 1
    return texts[:n]


def load_texts(n: int, root: str | None) -> tuple[list[str], str]:
    sets = load_shared_sentiment(root)
    texts = [t for rows, _ in sets.values() for t in rows][:n]
    if len(texts) >= n:
        return texts, "shared sentiment sets (" + ", ".join(sets) + ")"
    return demo_texts(n), "demo generator"


def _cpu() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(nlp, texts: list[str], n_process: int) -> tuple[float, float, list[tuple]]:
    """docs/s (wall clock), CPU µs per doc (this process and its workers), results."""
    start, cpu = time.perf_counter(), _cpu()
    out = [
        (d._.sentiment, d._.sentiment_label, d._.frustrated, d._.sentiment_model_version)
        for d in nlp.pipe(texts, n_process=n_process)
    ]
    wall = time.perf_counter() - start
    return len(texts) / wall, (_cpu() - cpu) / len(texts) * 1e6, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=None, help="shared data root (default ../shared/data)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    texts, source = load_texts(args.n, args.data)
    nlp = load_pipeline()
    list(nlp.pipe(texts[:500]))
    rates: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    results: dict[int, list[tuple]] = {}
    for _ in range(args.rounds):
        for n in (1, 2):
            rate, us, results[n] = run(nlp, texts, n)
            rates[n].append(round(rate))
            cpu[n].append(round(us, 1))
    report = {
        "texts": len(texts),
        "source": source,
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "docs_per_s": {str(n): max(r) for n, r in rates.items()},
        "rounds": {str(n): r for n, r in rates.items()},
        "cpu_us_per_doc": {str(n): min(c) for n, c in cpu.items()},
        "ratio_2_over_1": round(max(rates[2]) / max(rates[1]), 2),
        "same_results": results[1] == results[2],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['texts']} texts from {source}; {report['cpus']} CPUs, "
            f"load average {report['load_avg_1min']}"
        )
        for n in (1, 2):
            print(
                f"n_process={n}: {max(rates[n]):>7,} docs/s (rounds: {rates[n]}); "
                f"CPU {min(cpu[n])} µs/doc, all processes"
            )
        print(
            f"n_process=2 / n_process=1: {report['ratio_2_over_1']}x; "
            f"same results: {report['same_results']}"
        )
    return 0 if report["same_results"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
