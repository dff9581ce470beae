"""What every flow run starts with: its resources, built once from the settings of the run.

The settings are those of the calling context: `settings_overridden` (the demo pointing the
collect flows at its fakes, tests), else the environment. Tasks are handed the resources
(`cache_policy=NO_CACHE`: an engine is not something to hash).
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from feedbackloop.config import get_settings
from feedbackloop.resources import Resources


@task(retries=3, retry_delay_seconds=[2, 5, 10], cache_policy=NO_CACHE)
def prepare_resources() -> Resources:
    """Connect (starting the embedded server when no URL is set) and migrate; retried, since
    the database may be restarting."""
    return Resources.from_settings(get_settings())
