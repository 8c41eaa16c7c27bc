"""Fixtures of the reports service's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.reports.tests.support import Harness, running, settings_for


@pytest.fixture
async def reports(infra, topic_prefix) -> AsyncIterator[Harness]:
    """The reports service on real Kafka and FerretDB, with its own topics, group and database."""
    async with running(settings_for(infra, topic_prefix)) as harness:
        yield harness
