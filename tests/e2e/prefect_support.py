"""Helpers for tests that run flows the way deployments run them: on a real `prefect server`,
started by the scheduler, executed by `feedbackloop serve` or a process worker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from feedbackloop.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def clean_env(state: Path, **extra: str) -> dict[str, str]:
    """The test's environment without the developer's FEEDBACKLOOP_/PREFECT_ settings; the
    scheduler looks for due runs every 5 s instead of every 60 s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    return env | {
        "FEEDBACKLOOP_STATE_DIR": str(state),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "COLUMNS": "200",
        **extra,
    }


def prefect_yaml_with_interval(target: Path, deployment: str, seconds: int) -> Path:
    """A copy of the project's prefect.yaml (entrypoints still relative to the repo root) where
    `deployment` runs every `seconds` and every other schedule is inactive."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for d in spec["deployments"]:
        if d["name"] == deployment:
            d["schedules"] = [{"interval": seconds, "slug": "test-interval", "active": True}]
        else:
            d["schedules"] = [{**s, "active": False} for s in d.get("schedules") or []]
    target.write_text(yaml.safe_dump(spec, sort_keys=False))
    return target


def deployment(api_url: str, name: str) -> dict[str, Any]:
    answer = httpx.get(f"{api_url}/deployments/name/{name}/{name}", timeout=10)
    answer.raise_for_status()
    return answer.json()


def flow_runs(api_url: str, deployment_id: str) -> list[dict[str, Any]]:
    answer = httpx.post(
        f"{api_url}/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "limit": 200},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


def cancel_unfinished(api_url: str, deployment_id: str) -> list[str]:
    """Cancel the deployment's runs still PENDING or RUNNING (as `prefect flow-run cancel`
    would): what a stopped worker leaves when it stops right after claiming a run. Under the
    deployment's CANCEL_NEW concurrency such a run would cancel every later one."""
    left = [
        r for r in flow_runs(api_url, deployment_id) if r["state_type"] in ("PENDING", "RUNNING")
    ]
    for r in left:
        answer = httpx.post(
            f"{api_url}/flow_runs/{r['id']}/set_state",
            json={"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True},
            timeout=10,
        )
        answer.raise_for_status()
    return [r["name"] for r in left]


def wait_for_scheduled_run(
    api_url: str,
    deployment_id: str,
    *,
    after: float,
    timeout: float,
    procs: tuple[subprocess.Popen[Any], ...] = (),
) -> dict[str, Any]:
    """The first run the scheduler created (`auto_scheduled`, not a hand-started one) that
    completed after `after` (seconds since the epoch); fails at once on a crashed run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args[:3]} exited with {proc.returncode}"
        runs = flow_runs(api_url, deployment_id)
        # A run cut off by stopping an earlier worker or server crashed before `after`.
        crashed = [
            r["name"]
            for r in runs
            if r["state_type"] == "CRASHED" and r["start_time"] and _epoch(r["start_time"]) > after
        ]
        assert not crashed, f"crashed runs: {crashed}"
        done = [
            r
            for r in runs
            if r["auto_scheduled"]
            and r["state_type"] == "COMPLETED"
            and r["end_time"] is not None
            and _epoch(r["end_time"]) > after
        ]
        if done:
            return done[0]
        time.sleep(2)
    runs = flow_runs(api_url, deployment_id)
    states = sorted({(r["state_type"], r["auto_scheduled"]) for r in runs})
    raise AssertionError(f"no scheduled run completed in {timeout:.0f} s; runs seen: {states}")


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def stop(proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    stop_process(proc, timeout)


@contextmanager
def running(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[subprocess.Popen[Any]]:
    """`command` started with its output in `log_path`; stopped, and the log closed, after."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop(proc)
