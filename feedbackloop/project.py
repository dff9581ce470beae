"""Where the project's files are (prefect.yaml, config/, dbt_project/, the state dir), and the
Prefect pull step that puts a flow run there.

`prefect deploy` writes a pull step with the deploying machine's absolute working directory into
every deployment unless prefect.yaml names one; a worker elsewhere then fails to find it. Our
pull step (`prefect.yaml`'s `pull:`) carries no path: each worker resolves the project directory
on its own machine, so relative settings (`.feedbackloop`, `.env`) mean the same thing for a
scheduled run as for a command typed in the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from feedbackloop.config import ProjectLocation

PROJECT_DIR_VARIABLE = "FEEDBACKLOOP_PROJECT_DIR"
MARKER = "prefect.yaml"


class ProjectDirError(RuntimeError):
    """No project directory can be found; the message says what to set."""


def package_root() -> Path:
    """The directory above the installed `feedbackloop` package (the checkout, for an editable
    install)."""
    return Path(__file__).resolve().parent.parent


def project_dir(configured: Path | None = None) -> Path:
    """`configured`, else `FEEDBACKLOOP_PROJECT_DIR` when set, else the checkout the package was
    installed from."""
    configured = configured or ProjectLocation().project_dir
    candidate = configured.expanduser() if configured else package_root()
    if not (candidate / MARKER).is_file():
        raise ProjectDirError(
            f"{candidate} holds no {MARKER}: set {PROJECT_DIR_VARIABLE} to the feedbackloop "
            "project directory on this worker"
        )
    return candidate.resolve()


def use_project_directory() -> dict[str, str]:
    """Prefect pull step: change into the project directory (named like Prefect's own
    `set_working_directory`, whose output it returns)."""
    directory = project_dir()
    os.chdir(directory)
    return {"directory": str(directory)}
