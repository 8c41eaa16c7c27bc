"""One isolated system per test session, shared by the e2e, observability and browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.system import System, isolated_layout, start_system, stop_system


@pytest.fixture(scope="session")
async def system(infra) -> AsyncIterator[System]:
    layout = isolated_layout()
    try:
        await start_system(infra.cfg, layout)
    except Exception:
        await stop_system(infra.cfg, layout)
        raise
    async with aiohttp.ClientSession() as http:
        yield System(infra.cfg, layout, http)
    await stop_system(infra.cfg, layout)
