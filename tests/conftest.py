"""Shared fixtures: one real embedded PostgreSQL server per test session, a fresh database per
test that asks for one (CREATE DATABASE is cheap), settings that point at it."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from feedbackloop.config import Settings, reset_settings_cache
from feedbackloop.db import embedded_server, ensure_ready, get_engine
from feedbackloop.db.embedded import EmbeddedPostgres

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# Every test folder imports the shared helpers as `from support.<module> import ...`.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's FEEDBACKLOOP_* variables or the cached settings."""
    for key in list(os.environ):
        if key.startswith("FEEDBACKLOOP_"):
            monkeypatch.delenv(key)
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture(scope="session")
def pg_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """State dir of the session's embedded server; stopped at the end of the session."""
    state = tmp_path_factory.mktemp("state")
    server = EmbeddedPostgres(state)
    server.start()
    yield state
    server.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A server of the test's own, for tests that stop or restart PostgreSQL: doing that to
    the session's server would hurt other tests."""
    server = EmbeddedPostgres(tmp_path / "state")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for every test that runs a flow, shut down cleanly."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield


@pytest.fixture
def settings(pg_state_dir: Path) -> Iterator[Settings]:
    """Settings for a brand-new, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    s = Settings(state_dir=pg_state_dir, embedded_database=name)
    embedded_server(s).ensure_database(name)
    yield s
    # Engines are cached per URL: without this, every test's pool keeps its idle connections
    # open for the rest of the session, and the server runs out of connection slots.
    get_engine(s).dispose()


@pytest.fixture
def engine(settings: Settings) -> Engine:
    """A migrated, empty database."""
    return ensure_ready(settings)


@pytest.fixture
def bare_engine(settings: Settings) -> Engine:
    """An empty database with no schema at all."""
    return get_engine(settings)
