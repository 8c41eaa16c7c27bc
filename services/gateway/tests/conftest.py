"""Fixtures of the gateway's integration tests: the simulator, a command producer, egress instances."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from contracts import OutboundCommand, citizen_key
from contracts.topics import outbound_topic
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.testing import unique
from services.gateway.egress import create_app
from services.gateway.settings import EgressSettings
from services.gateway.tests.support import Sim, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with running_sim() as s:
        yield s


@pytest.fixture
async def producer(infra, topic_prefix) -> AsyncIterator[EventProducer]:
    p = EventProducer(infra.kafka_bootstrap, KitMetrics(CollectorRegistry()), topic_prefix)
    await p.start()
    yield p
    await p.stop()


async def publish(producer: EventProducer, *commands: OutboundCommand) -> None:
    for cmd in commands:
        await producer.publish(outbound_topic(cmd.lane), citizen_key(cmd.oa_id, cmd.user_id), cmd)


def egress_settings(infra: Any, topic_prefix: str, sim: Sim, refresh_tokens: dict[str, str], **overrides: Any):
    """Settings of one egress instance of a test: its own database and group unless given."""
    values: dict[str, Any] = {
        "kafka_bootstrap": infra.kafka_bootstrap,
        "mongo_uri": infra.mongo_uri,
        "mongo_db": unique("db"),
        "consumer_group": unique("g"),
        "topic_prefix": topic_prefix,
        "zalo_api_base": sim.url,
        "zalo_oauth_base": sim.url,
        "bootstrap_refresh_tokens": refresh_tokens,
        "send_backoff_initial_s": 0.05,
        "send_backoff_max_s": 0.2,
        "http_timeout_s": 5.0,
        "article_verify_interval_s": 0.05,
        "retry_backoff_initial_s": 0.05,
        "retry_backoff_max_s": 0.5,
        "drain_timeout_s": 5.0,
    }
    return EgressSettings(**(values | overrides))


EgressFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def make_egress() -> AsyncIterator[EgressFactory]:
    """Start egress apps (closed at the end of the test, newest first)."""
    servers: list[TestServer] = []

    async def start(settings: EgressSettings, **kwargs: Any) -> TestServer:
        server = TestServer(create_app(settings, **kwargs))
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()
