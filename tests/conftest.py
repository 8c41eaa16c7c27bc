"""One isolated system per test session, shared by the e2e, observability and browser tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devstack import stack
from servicekit.testing import drop_databases
from tests.system import System, isolated_layout, start_system, stop_system


async def _stop(infra, layout: stack.Layout) -> None:
    """Stop the processes, then drop their databases (their topics go with the session's prefix sweep)."""
    await stop_system(infra.cfg, layout)
    await asyncio.to_thread(drop_databases, infra.mongo_uri, [layout.database(name) for name in stack.MODULES])


@pytest.fixture(scope="session")
async def system(infra) -> AsyncIterator[System]:
    layout = isolated_layout()
    try:
        await start_system(infra.cfg, layout)
    except Exception:
        await _stop(infra, layout)
        raise
    async with aiohttp.ClientSession() as http:
        yield System(infra.cfg, layout, http)
    await _stop(infra, layout)
