"""The whole-loop benchmark's scoring stage on a Dask LocalCluster, measured per worker.

The same work as the `score-feedback` flow with `FEEDBACKLOOP_TASK_RUNNER=dask`: the pending
items cut into key ranges (two per worker), each scored and decided by `score_partition` (the
flow's task, called as a plain function so no Prefect server is needed) on whichever worker
takes it. Each partition reports its worker, rows, wall and CPU seconds, so the benchmark shows
how scoring divides across workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.routing import DecideReport, RulesFile
from feedbackloop.scoring import ScoreReport, merge_reports, model_version_of, pending_ranges


def _partition(key_range: Any, settings: Settings, rules: RulesFile | None) -> dict[str, Any]:
    """One key range on a worker (a module-level function: workers import it by name)."""
    from distributed import get_worker

    from flows.score import score_partition

    started, cpu = time.perf_counter(), time.process_time()
    report, decided = score_partition.fn(key_range, settings, None, rules)
    return {
        "worker": str(get_worker().name),
        "rows": report.scored,
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "report": report,
        "decided": decided,
    }


@dataclass
class DaskScoring:
    """A LocalCluster of `workers` processes (one thread each, as flows.score starts it),
    started once for both runs of the loop; `parts` holds every partition's figures."""

    workers: int
    start_s: float = 0.0
    parts: list[dict[str, Any]] = field(default_factory=list)
    _cluster: Any = None
    _client: Any = None

    def __enter__(self) -> DaskScoring:
        from distributed import Client, LocalCluster

        started = time.perf_counter()
        self._cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        self._client = Client(self._cluster)
        self.start_s = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        self._cluster.close()

    def score(
        self, engine: Engine, settings: Settings, nlp: Any, rules: RulesFile, decided: DecideReport
    ) -> ScoreReport:
        version = model_version_of(nlp)
        ranges = pending_ranges(engine, version, 2 * self.workers)
        futures = [self._client.submit(_partition, r, settings, rules, pure=False) for r in ranges]
        parts = self._client.gather(futures)
        for part in parts:
            decided.add(part.pop("decided"))
        report = merge_reports(version, [p.pop("report") for p in parts])
        self.parts.extend(parts)
        return report


def per_worker(parts: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Partitions, rows, wall and CPU seconds summed per worker."""
    out: dict[str, dict[str, float]] = {}
    for p in parts:
        w = out.setdefault(p["worker"], {"partitions": 0, "rows": 0, "wall_s": 0.0, "cpu_s": 0.0})
        w["partitions"] += 1
        w["rows"] += p["rows"]
        w["wall_s"] = round(w["wall_s"] + p["wall_s"], 2)
        w["cpu_s"] = round(w["cpu_s"] + p["cpu_s"], 2)
    return out
