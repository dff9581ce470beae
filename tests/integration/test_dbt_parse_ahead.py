"""`DbtRunner.parse` ahead of a build (#20): the feedback-loop flow parses the dbt project while
the forked events sync finishes, and the marts build after it then skips dbt's parse."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.marts import DbtRunner

SKIPPED = "Partial parsing enabled, no changes found, skipping parsing"


def test_a_build_after_parse_reads_the_parse(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # dbt's target and log under a state dir of this test's own (the session shares one)
    url = SecretStr(database_url(settings).render_as_string(hide_password=False))
    own = settings.model_copy(update={"state_dir": tmp_path, "database_url": url})
    runner = DbtRunner(own)
    log = own.state_path / "dbt" / "logs" / "dbt.log"
    assert not (runner.target_path / "partial_parse.msgpack").exists()

    parsed = runner.parse()
    assert parsed.success
    assert (runner.target_path / "partial_parse.msgpack").exists()
    assert SKIPPED not in log.read_text()  # the first parse parsed the whole project

    before = log.stat().st_size
    built = runner.build(quiet=True)
    assert built.success and built.failed == []
    assert any(n.startswith("model.") for n in built.passed)
    with log.open() as fh:
        fh.seek(before)
        assert SKIPPED in fh.read()

    # The build marked its views with this project's fingerprint: the next parse is current
    # already, and dbt is not run for it (nothing logged).
    before = log.stat().st_size
    assert runner.parse().success
    assert log.stat().st_size == before
    # A changed project is parsed again (a copy of it with one file more).
    project = tmp_path / "project"
    shutil.copytree(settings.dbt_project_dir, project, ignore=shutil.ignore_patterns("target"))
    (project / "models" / "README.md").write_text("A note beside the models.\n")
    changed = DbtRunner(own.model_copy(update={"dbt_project_dir": project}))
    assert changed.parse().success
    assert log.stat().st_size > before
