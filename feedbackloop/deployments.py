"""The deployments of `prefect.yaml`, read once for everyone who needs them: `serve` (to serve
them), the health ping (expected schedules) and the CLI.

Schedules live only in `prefect.yaml`; this module reads it and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DeploymentSpec", "ServeError", "read_prefect_yaml", "read_pull_steps"]


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
