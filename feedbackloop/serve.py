"""`feedbackloop serve`: a Prefect server, every deployment in `prefect.yaml` and the webhook
receiver, in one command.

Schedules live only in `prefect.yaml`: `load_deployments` reads them from there, so
`prefect deploy --all` (a server plus a process work pool) and `serve` run the same schedules.
A stored webhook delivery triggers a run of the `process-webhook-events` deployment at once
(coalesced: one run drains every stored delivery); its every-minute schedule is the backstop
when a trigger is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import httpx
import yaml

from feedbackloop.processes import die_with_parent

log = logging.getLogger(__name__)

WEBHOOK_DEPLOYMENT = "process-webhook-events/process-webhook-events"


class ServeError(RuntimeError):
    """`serve` cannot start; the message says which part and why."""


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of `prefect.yaml`'s `deployments`, as `serve` needs it."""

    name: str
    entrypoint: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: tuple[dict[str, Any], ...] = ()
    concurrency_limit: dict[str, Any] | None = None

    @property
    def flow_name(self) -> str:
        return self.load_flow().name

    def load_flow(self) -> Any:
        path, _, attr = self.entrypoint.partition(":")
        module = path.removesuffix(".py").replace("/", ".")
        return getattr(import_module(module), attr)


def read_prefect_yaml(path: Path) -> list[DeploymentSpec]:
    """The deployments of a `prefect.yaml` (YAML anchors resolved)."""
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ServeError(f"cannot read {path}: {exc}") from exc
    specs = []
    for d in spec.get("deployments") or []:
        if not d.get("name") or not d.get("entrypoint"):
            raise ServeError(f"{path}: every deployment needs a name and an entrypoint: {d}")
        specs.append(
            DeploymentSpec(
                name=d["name"],
                entrypoint=d["entrypoint"],
                description=d.get("description"),
                tags=tuple(d.get("tags") or ()),
                parameters=dict(d.get("parameters") or {}),
                schedules=tuple(d.get("schedules") or ()),
                concurrency_limit=d.get("concurrency_limit"),
            )
        )
    return specs


def read_pull_steps(path: Path) -> list[dict[str, Any]]:
    """The top-level `pull:` steps of a `prefect.yaml` (how a run finds the project)."""
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ServeError(f"cannot read {path}: {exc}") from exc
    return list(spec.get("pull") or [])


def _concurrency(entry: dict[str, Any] | None) -> Any:
    """prefect.yaml's `concurrency_limit: {limit, collision_strategy}` for `to_deployment`."""
    if entry is None:
        return None
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return ConcurrencyLimitConfig(
        limit=entry["limit"],
        collision_strategy=ConcurrencyLimitStrategy(entry.get("collision_strategy", "ENQUEUE")),
    )


def _schedule(entry: dict[str, Any]) -> Any:
    from prefect.schedules import Cron, Interval

    if "cron" in entry:
        return Cron(
            entry["cron"],
            timezone=entry.get("timezone"),
            active=entry.get("active", True),
            slug=entry.get("slug"),
        )
    if "interval" in entry:
        return Interval(entry["interval"], active=entry.get("active", True), slug=entry.get("slug"))
    raise ServeError(f"unsupported schedule (cron or interval expected): {entry}")


def load_deployments(path: Path, only: set[str] | None = None) -> list[Any]:
    """`RunnerDeployment`s for `prefect.serve`, with the schedules written in `path`."""
    deployments = []
    for spec in read_prefect_yaml(path):
        if only and spec.name not in only:
            continue
        flow = spec.load_flow()
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=list(spec.tags),
                parameters=spec.parameters or None,
                schedules=[_schedule(s) for s in spec.schedules],
                concurrency_limit=_concurrency(spec.concurrency_limit),
            )
        )
    if only and len(deployments) != len(only):
        known = {s.name for s in read_prefect_yaml(path)}
        raise ServeError(f"unknown deployments: {sorted(only - known)}")
    return deployments


def register_deployments(
    deployments: list[Any], pull_steps: list[dict[str, Any]], *, limit: int | None = None
) -> Any:
    """A Prefect `Runner` with `deployments` registered (not yet started), every one carrying
    prefect.yaml's pull steps.

    `prefect deploy --all` and `serve` register deployments under the same names. A served
    deployment updates an existing one without its path (Prefect sends no path on update), so
    runs of a deployment first made by `prefect deploy` crashed on `.../None`. With the same
    pull steps both ways, either can register a deployment and either can run it. Registered
    before the webhook receiver starts, so the first delivery's trigger finds its deployment.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=False, limit=limit)
    # A work pool set by `prefect deploy` stays: a worker may run these as well, and Prefect's
    # orchestration lets only one of them start a given run.
    ids = [runner.add_deployment(deployment) for deployment in deployments]
    with get_client(sync_client=True) as client:
        for deployment_id in ids:
            client.update_deployment(deployment_id, DeploymentUpdate(pull_steps=pull_steps))
    return runner


def run_runner(runner: Any) -> None:
    """Poll for and execute the registered deployments' runs until interrupted."""
    import asyncio

    asyncio.run(runner.start())


# ------------------------------------------------------------------------ prefect server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def prefect_server(
    home: Path,
    port: int,
    *,
    timeout: float = 120.0,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1 (SQLite under `home`) for the block; yields
    the API URL. The server is stopped when the block ends, however it ends. `env` is the
    server's environment (default: this process's)."""
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **(os.environ if env is None else env),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true"),
        # The UI asks the API on 4200 unless told otherwise, whatever port the server has.
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_SERVER_API_PORT": str(port),
    }
    env.pop("PREFECT_API_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    out = (log_path or home / "server.log").open("ab")
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    # die_with_parent: a kill -9 of this process must not leave the server behind.
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env=env,
        stdout=out,
        stderr=out,
        preexec_fn=die_with_parent(),
    )
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(api_url):
            if proc.poll() is not None:
                raise ServeError(f"prefect server exited with {proc.returncode}; see {out.name}")
            if time.monotonic() > deadline:
                raise ServeError(f"prefect server not up after {timeout:.0f} s; see {out.name}")
            time.sleep(0.5)
        yield api_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def interrupt_on_sigterm() -> None:
    """A plain `kill` then stops the server and the receiver the way Ctrl-C does."""
    import signal

    def _raise(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


# ---------------------------------------------------------------------- webhook trigger


class DeploymentTrigger:
    """Starts a run of one deployment when notified, coalescing bursts: at most one start per
    `min_interval` seconds, and a notification during that pause starts one more run after it,
    so a delivery stored while a run is finishing is never left waiting for the schedule."""

    def __init__(self, deployment: str, min_interval: float = 2.0) -> None:
        self.deployment = deployment
        self.min_interval = min_interval
        self.started = 0
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhook-trigger", daemon=True)

    def start(self) -> DeploymentTrigger:
        self._thread.start()
        return self

    def notify(self, *_: Any) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        from prefect.deployments import run_deployment

        while not self._stop.is_set():
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            try:
                run_deployment(self.deployment, timeout=0, as_subflow=False)
                self.started += 1
            except Exception as exc:
                # Tried again after the pause; the every-minute schedule is the last backstop.
                log.warning("could not trigger %s: %s", self.deployment, type(exc).__name__)
                self._wanted.set()
            self._stop.wait(self.min_interval)


@contextmanager
def webhook_receiver(app: Any, host: str, port: int) -> Iterator[str]:
    """Serve the webhook app with uvicorn in a thread for the block; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="webhooks", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServeError(f"the webhook receiver could not listen on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
