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


def test_serve_builds_every_deployment_with_the_schedules_of_prefect_yaml() -> None:
    from feedbackloop.serve import load_deployments

    built = {d.name: d for d in load_deployments(REPO / "prefect.yaml")}
    assert set(built) == {d["name"] for d in DEPLOYMENTS}
    for spec in DEPLOYMENTS:
        schedules = built[spec["name"]].schedules
        expected = [(s["cron"], s["active"]) for s in spec.get("schedules", [])]
        assert [(s.schedule.cron, s.active) for s in schedules] == expected
        assert set(built[spec["name"]].tags) == set(spec.get("tags", []))


def test_serve_refuses_an_unknown_deployment() -> None:
    from feedbackloop.serve import ServeError, load_deployments

    with pytest.raises(ServeError, match="no-such-flow"):
        load_deployments(REPO / "prefect.yaml", {"pull-tickets", "no-such-flow"})


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_every_deployment_has_a_description_and_a_layer_tag(deployment: dict) -> None:
    assert deployment.get("description")
    assert any(t.startswith("layer:") for t in deployment.get("tags", [])), deployment["name"]
    flow = _load(deployment["entrypoint"])
    assert flow.description, f"{flow.name} has no description"
    assert flow.timeout_seconds, f"{flow.name} has no flow-level timeout"


@pytest.mark.parametrize(
    "name", ["route-actions", "feedback-loop", "pull-tickets", "process-webhook-events"]
)
def test_racing_flows_run_one_at_a_time(name: str) -> None:
    from feedbackloop.serve import load_deployments

    (built,) = load_deployments(REPO / "prefect.yaml", {name})
    spec = next(d for d in DEPLOYMENTS if d["name"] == name)["concurrency_limit"]
    assert spec["limit"] == built.concurrency_limit == 1
    assert built.concurrency_options.collision_strategy.value == spec["collision_strategy"]


def test_prefect_deploy_gets_a_pull_step_without_a_path() -> None:
    """Without `pull:`, `prefect deploy` stores the deploying machine's working directory."""
    assert SPEC["pull"] == [{"feedbackloop.project.use_project_directory": {}}]
