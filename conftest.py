"""Session fixtures: the real Kafka broker and FerretDB of the local stack (started if not running).

Tests isolate by naming (fresh topic prefixes, groups and databases). Names are not free, though: every
partition costs the broker file handles, so a test's topics are deleted after it, and topics under any
prefix this session registered are swept at its end (only those: another test session may be running
against the same broker). Likewise every database is a SQLite file of FerretDB: the databases named by
`unique()` during a test are dropped after it, once its fixtures are closed, and those named outside any
test (session and module fixtures) at the end of the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devstack import ferretdb, kafka
from devstack.paths import StackConfig
from devstack.topics import delete_prefixed, ensure_topics
from servicekit.testing import SESSION_PREFIXES, drop_databases, recording_names, register_prefix, unique


@dataclass(frozen=True)
class Infra:
    """Where the real infrastructure listens."""

    cfg: StackConfig
    kafka_bootstrap: str
    mongo_uri: str


async def _sweep(cfg: StackConfig) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(tuple(SESSION_PREFIXES)))
        for i in range(0, len(names), 200):
            await admin.delete_topics(names[i : i + 200])
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    cfg = StackConfig.from_env()
    ferretdb.start(cfg)
    kafka.start(cfg)
    with recording_names() as names:
        yield Infra(cfg, cfg.kafka_bootstrap, cfg.mongo_uri)
    if SESSION_PREFIXES:
        asyncio.run(_sweep(cfg))
    drop_databases(cfg.mongo_uri, names - _DROPPED)


# Names whose databases were dropped after their test already (the session sweep skips them).
_DROPPED: set[str] = set()


@pytest.fixture(autouse=True)
def _drop_test_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Drop the databases a test on the real infrastructure named with unique() (autouse: torn down last)."""
    with recording_names() as names:
        yield
    if names and "infra" in request.fixturenames:
        drop_databases(request.getfixturevalue("infra").mongo_uri, names)
        _DROPPED.update(names)


@pytest.fixture
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    """A fresh prefix with every topic of the catalogue created under it (2 partitions each)."""
    prefix = register_prefix(unique("t") + ".")
    await ensure_topics(infra.kafka_bootstrap, prefix, max_partitions=2)
    yield prefix
    await delete_prefixed(infra.kafka_bootstrap, prefix)
