"""The whole-loop benchmark's harness at a small size: the fakes run in their own process, the
pipeline collects everything they serve, the counts reconcile, and the memory figures are the
benchmark process's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.processes import run_python

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = [
    "collect: zendesk",
    "collect: reviews",
    "collect: drops",
    "score + decide",
    "route: send",
    "topics",
    "dbt build",
]
# Generated streams and the raw tables the pipeline stores them in.
RAW_OF = {
    "tickets": "tickets",
    "comments": "ticket_comments",
    "status_changes": "ticket_status_changes",
    "satisfaction_ratings": "satisfaction_ratings",
    "reviews": "reviews",
    "notes": "notes",
}


@pytest.mark.slow
def test_loop_bench_collects_what_the_fakes_process_serves() -> None:
    out = run_python(
        "benchmarks/loop_bench.py", "--tickets", "300", "--json", cwd=REPO_ROOT, timeout=900
    )
    result = json.loads(out)

    dataset, full, after = (
        result["dataset"],
        result["raw_after_full"],
        result["raw_after_incremental"],
    )
    assert dataset["tickets"] == 300
    # Everything the fakes served was stored (nothing malformed is served, so none quarantined).
    assert {t: full[t] for t in RAW_OF.values()} == {t: dataset[s] for s, t in RAW_OF.items()}
    assert full["quarantined"] == after["quarantined"] == 0
    change = result["change"]
    assert change["updated_tickets"] == 100 and change["new_reviews"] >= 1
    # The increment: changed tickets are updated in place, the new reviews added.
    assert after["tickets"] == full["tickets"]
    assert after["reviews"] == full["reviews"] + change["new_reviews"]
    assert result["full"]["counts"]["collect: reviews"] == dataset["reviews"]
    # "received" counts unchanged rows too: the increment pages through the reviews again.
    assert result["incremental"]["counts"]["collect: reviews"] >= change["new_reviews"]
    assert result["incremental"]["counts"]["score + decide"] >= change["updated_tickets"]
    assert result["items"] == sum(full[t] for t in RAW_OF.values() if t != "ticket_status_changes")

    for run in ("full", "incremental"):
        assert list(result[run]["seconds"]) == STAGES
        assert set(result[run]["peak_mb"]) == set(STAGES)
        for stage in STAGES:
            assert result[run]["peak_mb"][stage] >= result[run]["rss_after_mb"][stage] > 0
    assert result["peak_rss_mb"] == max(
        [result["hwm_setup_mb"]]
        + [v for run in ("full", "incremental") for v in result[run]["peak_mb"].values()]
    )
    # The fakes' memory is theirs: reported apart, not in the pipeline's figures.
    assert result["fakes_peak_rss_mb"] > 0
    assert 0 < result["incremental_share"] < 1
    # The increment's dbt build, node by kind: what its per-node cost is paid on.
    nodes = result["incremental_dbt_nodes"]
    assert nodes["model"] > 0 and nodes["test"] > 0
    assert sum(nodes.values()) >= len(result["incremental_dbt_slowest"])
