"""Schedules fire on a real Prefect server: `prefect deploy --all` and a process worker, as the
README shows, then `feedbackloop serve` against the same server. Only runs the scheduler
created count (not hand-started ones); a deployment carries no path of the deploying machine."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from prefect_support import (
    BIN,
    REPO,
    cancel_unfinished,
    clean_env,
    deployment,
    prefect_yaml_with_interval,
    running,
    wait_for_scheduled_run,
)

from feedbackloop.serve import free_port, prefect_server

POOL = "feedbackloop-process"


def _prefect(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_worker_runs_scheduled_deployments_and_serve_can_take_over(tmp_path: Path) -> None:
    state = tmp_path / "state"
    prefect_yaml = prefect_yaml_with_interval(tmp_path / "prefect.yaml", "health-ping", 10)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = clean_env(state, PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=api_url)
    elsewhere = tmp_path / "worker-cwd"  # the worker is not started in the checkout
    elsewhere.mkdir()

    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    with prefect_server(tmp_path / "server-home", port, env=server_env) as url:
        assert url == api_url
        _prefect(["work-pool", "create", POOL, "--type", "process"], env, REPO)
        out = _prefect(["deploy", "--all", "--prefect-file", str(prefect_yaml)], env, REPO)
        assert "health-ping" in out

        # Nothing of this machine's layout is stored with any deployment.
        every = [deployment(api_url, d) for d in _names(prefect_yaml)]
        assert len(every) == 12
        for d in every:
            assert str(REPO) not in json.dumps(d), d["name"]
            assert d["work_pool_name"] == POOL
            assert d["pull_steps"] == [{"feedbackloop.project.use_project_directory": {}}]
        ping = deployment(api_url, "health-ping")
        assert ping["schedules"][0]["schedule"]["interval"] == 10

        worker_command = [str(BIN / "prefect"), "worker", "start", "--pool", POOL]
        with running(worker_command, env, elsewhere, tmp_path / "worker.log") as worker:
            started = time.time()
            run = wait_for_scheduled_run(
                api_url, ping["id"], after=started, timeout=240, procs=(worker,)
            )
            assert run["work_queue_name"] == "default"
        # The worker may stop right after claiming its next run (one every 10 s): that run
        # stays PENDING, and under CANCEL_NEW it would cancel every run serve starts.
        cancel_unfinished(api_url, ping["id"])

        # `feedbackloop serve` on the same server re-registers the same deployment; its runs
        # must not crash on the path `prefect deploy` left empty, and the worker's pool stays.
        serve_command = [
            *(str(BIN / "feedbackloop"), "serve", "--prefect-yaml", str(prefect_yaml)),
            *("-d", "health-ping", "--no-web"),
        ]
        with running(serve_command, env, REPO, tmp_path / "serve.log") as serve:
            started = time.time()
            wait_for_scheduled_run(api_url, ping["id"], after=started, timeout=180, procs=(serve,))
        after_serve = deployment(api_url, "health-ping")
        assert after_serve["work_pool_name"] == POOL
        assert after_serve["pull_steps"] == ping["pull_steps"]
    subprocess.run([str(BIN / "feedbackloop"), "db", "stop"], env=env, capture_output=True)


def _names(prefect_yaml: Path) -> list[str]:
    import yaml

    return [d["name"] for d in yaml.safe_load(prefect_yaml.read_text())["deployments"]]
