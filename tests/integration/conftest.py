"""Fixtures integration tests share: the fake Zendesk of the connector tests, the routing world."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from support.routing import World, routing_world

from demo.fake_zendesk import FakeZendesk, serve_fake_zendesk
from demo.generator import DemoDataset
from feedbackloop.config import Settings


@pytest.fixture
def fake(request: pytest.FixtureRequest, dataset: DemoDataset) -> Iterator[FakeZendesk]:
    """The fake Zendesk API on loopback, serving the module's `dataset` in pages of the
    module's `PAGE`; a module with another fake (the App Store's) defines its own `fake`."""
    with serve_fake_zendesk(dataset, page_size=request.module.PAGE) as server:
        yield server


@pytest.fixture
def w(engine: Engine, settings: Settings) -> Iterator[World]:
    """The routing world: demo data loaded, fake Zendesk, Slack and HubSpot serving, settings
    pointing at them (short name: nearly every line of a routing test speaks of it)."""
    with routing_world(engine, settings) as world:
        yield world
