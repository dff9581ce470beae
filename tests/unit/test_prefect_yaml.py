"""Every deployment in prefect.yaml points at a flow that imports (entrypoint drift is a
known failure in Prefect's own examples), and schedules live only there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from prefect import Flow

REPO = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((REPO / "prefect.yaml").read_text())
DEPLOYMENTS = SPEC["deployments"]


def _load(entrypoint: str) -> object:
    path, _, attr = entrypoint.partition(":")
    spec = importlib.util.spec_from_file_location(Path(path).stem, REPO / path)
    assert spec and spec.loader, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_is_a_flow(deployment: dict) -> None:
    obj = _load(deployment["entrypoint"])
    assert isinstance(obj, Flow)
    params = set(obj.parameters.properties)
    assert set(deployment.get("parameters", {})) <= params


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_schedules_are_well_formed(deployment: dict) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    for schedule in deployment.get("schedules", []):
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        assert {"slug", "active"} <= set(schedule)


def test_no_schedule_is_declared_in_code() -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "flows").rglob("*.py")
        if any(word in p.read_text() for word in ("CronSchedule(", "cron=", ".serve("))
    ]
    assert offenders == []
