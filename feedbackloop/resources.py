"""The resources of one environment, built from `Settings` in one place.

`Resources.from_settings(settings)` is how a flow run, a command or a test gets everything it
talks to: the settings, the engine (database reachable and migrated), the dbt runner, the GX
validator and the notifier targets. Production URLs or the demo's fakes differ only by the
settings they are built from (`Settings.updated`), never by the process environment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.db import database_url, ensure_ready
from feedbackloop.marts import DbtRunner
from feedbackloop.notify import Targets

if TYPE_CHECKING:
    from expectations.checkpoints import Validator


def build_validator(
    settings: Settings, *, ephemeral: bool = False, now: datetime | None = None
) -> Validator:
    """GX gates and checks on the settings' database (file context under STATE_DIR/gx)."""
    # Imported here: GX takes seconds to import, and most flow runs never validate.
    from expectations.checkpoints import Validator

    url = database_url(settings).render_as_string(hide_password=False)
    return Validator(
        settings.state_path,
        url,
        known_sources=settings.known_sources,
        ephemeral=ephemeral,
        now=now,
    )


@dataclass
class Resources:
    """Settings plus what is built from them. The validator is built on first use (a GX
    context takes seconds and most runs never validate); targets are opened per use, since
    their HTTP clients are closed after each dispatch."""

    settings: Settings
    engine: Engine
    dbt: DbtRunner
    _validator: Validator | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Resources:
        """Connect (starting the embedded server when no URL is set) and migrate."""
        return cls(settings=settings, engine=ensure_ready(settings), dbt=DbtRunner(settings))

    @property
    def validator(self) -> Validator:
        with self._lock:  # tasks of one run may ask for it from several threads
            if self._validator is None:
                self._validator = build_validator(self.settings)
            return self._validator

    def targets(self, **kwargs: Any) -> Targets:
        """Clients of the configured notifier targets; each HTTP call is a row in
        `ops.api_usage`. `kwargs` (sleep, timeout, max_wait) go to every client."""
        return Targets.from_settings(self.settings, engine=self.engine, **kwargs)
