"""The whole-loop benchmark's outside world, in a process of its own.

    python benchmarks/loop_fakes.py --tickets N --state-dir DIR --database NAME

Generates the demo data set, loads the reference streams (CRM accounts, contacts and consent,
help center articles) into the benchmark's database, serves the fake Zendesk and App Store
(and writes the notes drop file) and the routing targets (Slack, HubSpot), then answers one
JSON line per JSON command line on stdin/stdout:

- first, unasked: `{"ready": true, "settings": {...}, "drop_path": ..., "dataset": {...}}`;
- `{"op": "change"}`: 1% of the tickets change (new text) and 1% new reviews appear ->
  `{"updated_tickets": n, "new_reviews": n}`;
- `{"op": "stop"}` (or stdin closed): `{"stopped": true, "peak_rss_mb": ...}`, then it exits.

So the benchmark process holds only the pipeline, and the fakes do not share its GIL. Anything
the libraries print goes to stderr: stdout carries only the protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.fake_targets import serve_fake_targets
from demo.generator import DemoDataset, generate
from demo.load import load_dataset
from demo.sources import REFERENCE_STREAMS, serve_demo_sources
from feedbackloop.config import Settings
from feedbackloop.db import get_engine

SEED = 7
NEW_TEXT = "Still waiting, third time asking"


def _peak_rss_mb() -> float:
    """VmHWM, not getrusage: after fork + exec, ru_maxrss starts at the parent's RSS."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _change(dataset: DemoDataset, fakes: tuple[Any, Any]) -> dict[str, int]:
    """The benchmark's increment: every hundredth ticket gets new text, and 1% new reviews."""
    zd_fake, store_fake = fakes
    step = max(1, len(dataset.tickets) // 100)
    updated = 0
    for t in dataset.tickets[::step]:
        zd_fake.update_ticket(t.source_id, description=NEW_TEXT)
        updated += 1
    new_reviews = max(1, len(dataset.reviews) // 100)
    for n in range(new_reviews):
        store_fake.add_review(
            f"bench-new-{n}",
            rating=1,
            title="Charged twice",
            body="I was charged twice and nobody answers.",
            created_at=datetime.now(UTC) - timedelta(minutes=n),
        )
    return {"updated_tickets": updated, "new_reviews": new_reviews}


def serve(tickets: int, settings: Settings, out: IO[str], commands: IO[str]) -> None:
    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    started = time.perf_counter()
    dataset = generate(seed=SEED, tickets=tickets)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    load_dataset(
        get_engine(settings), dataset, hash_key=settings.hash_key(), streams=REFERENCE_STREAMS
    )
    load_s = time.perf_counter() - started
    with (
        serve_demo_sources(dataset, malformed=False, state_dir=settings.state_path) as sources,
        serve_fake_targets() as targets,
    ):
        send(
            {
                "ready": True,
                "settings": sources.settings,
                "drop_path": str(sources.drop_path),
                "slack_webhook_urls": targets.slack.urls,
                "hubspot_base_url": targets.hubspot.base_url,
                "hubspot_token": targets.hubspot.token,
                "dataset": dataset.counts(),
                "generate_s": round(generate_s, 2),
                "reference_load_s": round(load_s, 2),
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
        for line in commands:
            op = json.loads(line).get("op")
            if op == "change":
                send(_change(dataset, sources.fakes))
            elif op == "stop":
                break
            else:
                send({"error": f"unknown op {op!r}"})
    send({"stopped": True, "peak_rss_mb": _peak_rss_mb()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--database", required=True, help="the embedded database's name")
    args = parser.parse_args()
    # The protocol keeps the real stdout; whatever else writes to stdout lands on stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    settings = Settings(state_dir=args.state_dir, embedded_database=args.database)
    serve(args.tickets, settings, out, sys.stdin)


if __name__ == "__main__":
    main()
