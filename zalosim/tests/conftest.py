from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from zalosim.app import create_app
from zalosim.settings import SimSettings
from zalosim.tests.support import Sim, SimFactory, start_receiver


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Start simulators (each with its own webhook receiver); settings overrides as keyword arguments."""
    started: list[Sim] = []

    async def factory(**overrides: Any) -> Sim:
        receiver = await start_receiver()
        settings = SimSettings(
            _env_file=None,
            webhook_url=receiver.url,
            retry_time_scale=0.0002,
            **overrides,
        )
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        sim = Sim(client=client, receiver=receiver)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        await sim.client.close()
        assert sim.receiver.server is not None
        await sim.receiver.server.close()


@pytest.fixture
async def sim(make_sim: SimFactory) -> Sim:
    """A simulator with default settings and a token for the ``tanphu`` OA."""
    started = await make_sim()
    await started.grant("tanphu")
    return started
