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
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedbackloop.deployments import (
    ServeError,
    read_prefect_yaml,
)
from feedbackloop.deployments import read_pull_steps as read_pull_steps  # the CLI's
from feedbackloop.processes import ProcessStartError, die_with_parent, serving
from feedbackloop.processes import free_port as free_port  # the CLI's and the tests'
from feedbackloop.web.server import serve_app

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from feedbackloop.config import Settings

log = logging.getLogger(__name__)

WEBHOOK_DEPLOYMENT = "process-webhook-events/process-webhook-events"


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
    with out, ExitStack() as stack:
        try:
            stack.enter_context(
                serving(
                    [*cmd, "--port", str(port)],
                    f"{api_url}/health",
                    timeout=timeout,
                    poll=0.5,
                    env=env,
                    stdout=out,
                    stderr=out,
                    preexec_fn=die_with_parent(),
                )
            )
        except ProcessStartError as exc:
            raise ServeError(f"prefect server {exc}; see {out.name}") from None
        yield api_url


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

        failing = False
        while not self._stop.is_set():
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            try:
                run_deployment(self.deployment, timeout=0, as_subflow=False)
                self.started += 1
                if failing:
                    log.warning("triggering %s works again", self.deployment)
                failing = False
            except Exception as exc:
                # Tried again after the pause (the every-minute schedule is the last backstop);
                # one line per outage, not one every `min_interval` while the API is down.
                if not failing:
                    log.warning("could not trigger %s: %s", self.deployment, type(exc).__name__)
                failing = True
                self._wanted.set()
            self._stop.wait(self.min_interval)


@contextmanager
def webhook_receiver(app: Any, host: str, port: int) -> Iterator[str]:
    """Serve the webhook app with uvicorn in a thread for the block; yields its base URL."""
    with serve_app(app, host=host, port=port, name="webhook receiver", error=ServeError) as url:
        yield url


# ----------------------------------------------------------------- the commands' Prefect API


def prefect_defaults(settings: Settings) -> None:
    """Keep Prefect's local state beside ours and quiet offline, unless the user set it."""
    os.environ.setdefault("PREFECT_HOME", str(settings.state_path / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The first start on a fresh machine migrates Prefect's database, which takes longer
    # than the default 20 s on a small machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Prefect's own run logs would tear through the progress bars; warnings still show.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def own_prefect_api() -> None:
    """Flows run against a Prefect API server tied to this process. Without PREFECT_API_URL,
    Prefect would start its ephemeral API as a subprocess that a kill -9 of this process
    leaves running (Prefect has no hook to change that): start `prefect server start` here
    instead, which dies with this process (`die_with_parent`) and stops at a normal exit
    after Prefect's own exit handlers have flushed to it (atexit runs last-in first-out)."""
    if os.environ.get("PREFECT_API_URL"):
        return
    import atexit

    from feedbackloop.config import ConfigError

    home = Path(os.environ["PREFECT_HOME"])
    # A private API for this run: no UI, no schedules to create (the ephemeral API's way).
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    env = {
        **os.environ,
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    }
    stack = ExitStack()
    try:
        api_url = stack.enter_context(
            prefect_server(home, free_port(), log_path=home / "api-server.log", env=env)
        )
    except ServeError as exc:
        raise ConfigError(f"cannot start the Prefect API server: {exc}") from None
    atexit.register(stack.close)
    os.environ["PREFECT_API_URL"] = api_url


def serve_all(
    settings: Settings,
    engine: Engine,
    prefect_yaml: Path,
    *,
    only: set[str] | None,
    prefect_port: int,
    web: bool,
    host: str,
    port: int,
    limit: int | None,
    echo: Callable[[Any], None],
) -> None:
    """`feedbackloop serve`: a Prefect server (unless PREFECT_API_URL points at one), the
    deployments of `prefect_yaml` (`only` those, when given) on their schedules and, with
    `web`, the webhook receiver, until interrupted. `echo` shows what runs where."""
    from rich.table import Table

    os.environ.setdefault("PREFECT_HOME", str(settings.state_path / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    interrupt_on_sigterm()
    specs = read_prefect_yaml(prefect_yaml)
    with ExitStack() as stack:
        api_url = os.environ.get("PREFECT_API_URL")
        if not api_url:
            echo(f"starting a Prefect server on 127.0.0.1:{prefect_port} ...")
            api_url = stack.enter_context(
                prefect_server(Path(os.environ["PREFECT_HOME"]), prefect_port)
            )
            os.environ["PREFECT_API_URL"] = api_url
        from prefect.settings import PREFECT_API_URL, temporary_settings

        stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
        deployments = load_deployments(prefect_yaml, only)
        served = {d.name for d in deployments}
        table = Table(title=f"Serving {len(deployments)} deployments from {prefect_yaml}")
        table.add_column("deployment")
        table.add_column("schedules")
        for spec in specs:
            if spec.name in served:
                crons = ", ".join(
                    s.get("cron", str(s.get("interval")))
                    + ("" if s.get("active", True) else " (inactive)")
                    for s in spec.schedules
                )
                table.add_row(spec.name, crons or "on demand")
        echo(table)
        echo(f"Prefect API: {api_url} (UI: {api_url.removesuffix('/api')})")
        runner = register_deployments(deployments, read_pull_steps(prefect_yaml), limit=limit)
        if web:
            from feedbackloop.web import create_app

            trigger = None
            if WEBHOOK_DEPLOYMENT.split("/")[1] in served:
                trigger = DeploymentTrigger(WEBHOOK_DEPLOYMENT).start()
                stack.callback(trigger.stop)
            app = create_app(settings, engine=engine, on_stored=trigger.notify if trigger else None)
            url = stack.enter_context(webhook_receiver(app, host, port))
            echo(f"webhooks: POST {url}/webhooks/zendesk, {url}/webhooks/{{source}}")
        echo("Ctrl-C stops everything.")
        run_runner(runner)
