"""Session fixtures: the real Kafka broker and FerretDB of the local stack (started if not running).

Tests isolate by naming (fresh topic prefixes, groups and databases). Names are not free, though: every
partition costs the broker file handles and every database costs FerretDB an SQLite file, so a test's
topics are deleted after it, and whatever the session created and left behind is swept at its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from devstack import ferretdb, kafka
from devstack.paths import StackConfig
from devstack.topics import delete_prefixed, ensure_topics
from servicekit.testing import unique


@dataclass(frozen=True)
class Infra:
    """Where the real infrastructure listens."""

    cfg: StackConfig
    kafka_bootstrap: str
    mongo_uri: str


async def _names(cfg: StackConfig) -> tuple[set[str], set[str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    mongo = AsyncMongoClient(cfg.mongo_uri)
    try:
        databases = set(await mongo.list_database_names())
    finally:
        await mongo.close()
    return topics, databases


async def _sweep(cfg: StackConfig, topics_before: set[str], databases_before: set[str]) -> None:
    topics, databases = await _names(cfg)
    created = sorted(t for t in topics - topics_before if not t.startswith("__"))
    if created:
        admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
        await admin.start()
        try:
            for i in range(0, len(created), 200):
                await admin.delete_topics(created[i : i + 200])
        finally:
            await admin.close()
    mongo = AsyncMongoClient(cfg.mongo_uri)
    try:
        for name in databases - databases_before - {"admin", "local", "config"}:
            await mongo.drop_database(name)
    finally:
        await mongo.close()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    cfg = StackConfig.from_env()
    ferretdb.start(cfg)
    kafka.start(cfg)
    topics_before, databases_before = asyncio.run(_names(cfg))
    yield Infra(cfg, cfg.kafka_bootstrap, cfg.mongo_uri)
    asyncio.run(_sweep(cfg, topics_before, databases_before))


@pytest.fixture
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    """A fresh prefix with every topic of the catalogue created under it (2 partitions each)."""
    prefix = unique("t") + "."
    await ensure_topics(infra.kafka_bootstrap, prefix, max_partitions=2)
    yield prefix
    await delete_prefixed(infra.kafka_bootstrap, prefix)
