"""The console script as a user runs it: clear one-line errors, working commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import FEEDBACKLOOP, run_cli

from feedbackloop.config import Settings


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("postgresql://alice:s3cr3t-pw@127.0.0.1:1/feedback", "127.0.0.1:1"),
        ("postgresql://alice:s3cr3t-pw@db.invalid:5432/feedback", "db.invalid:5432"),
    ],
)
def test_wrong_database_url_is_one_clear_line(url: str, host: str, tmp_path: Path) -> None:
    result = run_cli("db", "migrate", env={"FEEDBACKLOOP_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "FEEDBACKLOOP_DATABASE_URL" in lines[0]
    assert host in lines[0]
    assert "alice:***@" in lines[0]


def test_invalid_setting_names_the_setting_without_its_value(tmp_path: Path) -> None:
    result = run_cli(
        "db", "url", env={"FEEDBACKLOOP_DATABASE_URL": "mysql://bob:hunter2@h/db"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "FEEDBACKLOOP_DATABASE_URL" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_only_commands_that_exist() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    listed = set(re.findall(r"^│ (\w[\w-]*)\s", result.stdout, flags=re.M))
    assert {"db", "demo"} <= listed
    for command in listed - {"help"}:
        sub = run_cli(command, "--help")
        assert sub.returncode == 0, f"`feedbackloop {command} --help` fails: {sub.stderr}"


def test_db_commands_against_the_embedded_server(settings: Settings) -> None:
    env = {
        "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
        "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
    }
    url = run_cli("db", "url", env=env)
    assert url.returncode == 0, url.stderr
    assert url.stdout.strip().startswith("postgresql+psycopg://postgres:***@/")  # masked
    assert settings.embedded_database in url.stdout

    migrate = run_cli("db", "migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    again = run_cli("db", "migrate", env=env)
    assert "already current" in again.stdout

    status = run_cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "running" in status.stdout and "raw.tickets" in status.stdout


def test_dbt_passes_through_and_prints_the_env_for_a_plain_dbt(
    settings: Settings, tmp_path: Path
) -> None:
    from feedbackloop.db import embedded_server

    env = {
        "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
        "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
    }
    # A fresh database: nothing loaded, so the source is stale and dbt's exit code 1 comes back.
    stale = run_cli("dbt", "source", "freshness", "-s", "source:ops.flow_runs", env=env)
    assert stale.returncode == 1, stale.stdout[-2000:] + stale.stderr[-2000:]
    assert "ERROR STALE freshness of ops.flow_runs" in stale.stdout

    exports = run_cli("dbt", "env", env=env)
    assert exports.returncode == 0, exports.stderr
    assert f"export FEEDBACKLOOP_PG_DBNAME={settings.embedded_database}" in exports.stdout
    password_file = embedded_server(settings).password_file
    assert password_file.read_text().strip() not in exports.stdout  # read when evaluated

    # A plain dbt, from another directory, with only what `dbt env` exported.
    dbt = Path(sys.executable).with_name("dbt")
    script = f'eval "$({FEEDBACKLOOP} dbt env)" && exec {dbt} show --inline "select 42 as answer"'
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "DBT_"))}
    plain = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={**base, **env},
        cwd=tmp_path,
    )
    assert plain.returncode == 0, plain.stdout[-2000:] + plain.stderr[-2000:]
    assert re.search(r"\|\s*42\s*\|", plain.stdout), plain.stdout


def test_dbt_env_hides_a_configured_password_unless_asked(tmp_path: Path) -> None:
    url = "postgresql://alice:s3cr3t-pw@db.invalid:5432/feedback"
    env = {"FEEDBACKLOOP_DATABASE_URL": url, "FEEDBACKLOOP_STATE_DIR": str(tmp_path)}
    hidden = run_cli("dbt", "env", env=env)
    assert hidden.returncode == 0, hidden.stderr
    assert "export FEEDBACKLOOP_PG_HOST=db.invalid" in hidden.stdout
    assert "s3cr3t-pw" not in hidden.stdout + hidden.stderr
    shown = run_cli("dbt", "env", "--show-password", env=env)
    assert "export FEEDBACKLOOP_PG_PASSWORD=s3cr3t-pw" in shown.stdout


# The console script with the `demo` package absent, as in an install without it.
WITHOUT_DEMO = """
import sys


class NoDemo:
    def find_spec(self, name, path=None, target=None):
        if name == "demo" or name.startswith("demo."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoDemo())
from feedbackloop.cli import main

sys.argv = ["feedbackloop", *sys.argv[1:]]
main()
"""


def test_demo_without_the_demo_package_is_one_line_and_the_rest_works(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    env = {**base, "FEEDBACKLOOP_STATE_DIR": str(tmp_path / "state")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", WITHOUT_DEMO, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)

    demo = run("demo", "--tickets", "10")
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert demo.stderr.strip() == "error: the demo is not installed: pip install -e '.[dev]'"
    assert "Traceback" not in demo.stdout + demo.stderr
    assert not (tmp_path / "state" / "prefect").exists()  # failed before starting Prefect
    # Every other command is there without it.
    listed = run("--help")
    assert listed.returncode == 0, listed.stderr
    assert {"db", "demo", "serve", "import"} <= set(re.findall(r"^│ (\w+)\s", listed.stdout, re.M))
