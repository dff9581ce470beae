"""Everything loads: every module imports, the dbt project parses with settings-derived env."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import feedbackloop
import flows
from feedbackloop.config import Settings
from feedbackloop.marts import run_dbt

PACKAGES = [feedbackloop, flows]


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if ".migrations" not in info.name:
                names.append(info.name)
    return names


@pytest.mark.parametrize("module", _modules())
def test_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_dbt_project_parses(tmp_path: Path) -> None:
    # parse reads the profile but opens no connection: a production-style URL is enough.
    settings = Settings(
        _env_file=None,
        database_url="postgresql://reader:pw@db.example:5432/feedback",
        state_dir=tmp_path,
    )
    result = run_dbt(["parse"], settings)
    assert result.success
    assert (tmp_path / "dbt" / "target" / "manifest.json").exists()
