"""`column_checks` (dbt_project/tests/generic/column_checks.sql): one test node runs a model's
not_null, unique, accepted_values, relationships and unique-combination checks with dbt's own
rules, and its failures name the column, the check and the value.

Run by real dbt on a small project of its own (two models from literal rows, the project's
generic test copied in), against the session's PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.marts import MartsBuildError, run_dbt

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"

PARENT_SQL = "select id from (values (1), (2)) as t (id)"
# Each bad row breaks one check; the nulls break only not_null (dbt's rules).
CHILD_SQL = """
select * from (values
    (1, 'open', 1, 'x', 1, 5),
    (2, 'open', 2, 'y', 1, null),
    (2, 'weird', 9, 'x', 1, 7),
    (null, null, null, null, null, null),
    (3, 'it''s', null, 'z', 2, 1)
) as t (id, status, parent_id, a, b, rating)
"""
CLEAN_SQL = f"select * from ({CHILD_SQL}) as rows where id = 1"

SCHEMA = """
version: 2
models:
  - name: child
    data_tests:
      - column_checks:
          name: column_checks_child
          arguments:
            not_null: [id, a]
            unique: [id]
            accepted_values:
              status: ["open", "it's"]
              rating: [1, 2, 3, 4, 5]
            relationships:
              parent_id: {to: "ref('parent')", field: id}
            unique_combinations: [[a, b]]
"""


def _project(tmp_path: Path, child_sql: str) -> Path:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "tests" / "generic").mkdir(parents=True)
    shutil.copy(PROJECT / "profiles.yml", project / "profiles.yml")
    shutil.copy(
        PROJECT / "tests" / "generic" / "column_checks.sql",
        project / "tests" / "generic" / "column_checks.sql",
    )
    (project / "dbt_project.yml").write_text(
        "name: feedbackloop\nversion: '0.1.0'\nconfig-version: 2\nprofile: feedbackloop\n"
        "models:\n  feedbackloop:\n    +materialized: view\n    +schema: column_checks\n"
    )
    (project / "models" / "parent.sql").write_text(PARENT_SQL)
    (project / "models" / "child.sql").write_text(child_sql)
    (project / "models" / "schema.yml").write_text(SCHEMA)
    return project


def _build(settings: Settings, project: Path, target: Path) -> None:
    own = settings.model_copy(update={"dbt_project_dir": project})
    run_dbt(["build", "--target-path", str(target)], own, quiet=True)


def _failures(engine: Engine, target: Path) -> set[tuple[str, str, str | None, int]]:
    """The test's own SQL, as dbt compiled it, run again: its rows are what a failure reports."""
    (compiled,) = target.glob("compiled/**/column_checks_child.sql")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(compiled.read_text()).all()
    return {(row[0], row[1], row[2], row[3]) for row in rows}


def test_every_check_fails_by_column_and_value_in_one_node(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    with pytest.raises(MartsBuildError, match=r"test\.feedbackloop\.column_checks_child"):
        _build(settings, _project(tmp_path, CHILD_SQL), target)
    assert _failures(engine, target) == {
        ("id", "not_null", None, 1),
        ("a", "not_null", None, 1),
        ("id", "unique", "2", 2),
        ("status", "accepted_values", "weird", 1),
        ("rating", "accepted_values", "7", 1),
        ("parent_id", "relationships", "9", 1),
        ("a, b", "unique_combination", "(x,1)", 2),
    }


def test_a_model_that_keeps_every_rule_passes(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    _build(settings, _project(tmp_path, CLEAN_SQL), target)
    assert _failures(engine, target) == set()
