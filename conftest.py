"""Session fixtures: the real Kafka broker and FerretDB of the local stack (started if not running)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from devstack import ferretdb, kafka
from devstack.paths import StackConfig
from devstack.topics import ensure_topics
from servicekit.testing import unique


@dataclass(frozen=True)
class Infra:
    """Where the real infrastructure listens."""

    cfg: StackConfig
    kafka_bootstrap: str
    mongo_uri: str


@pytest.fixture(scope="session")
def infra() -> Infra:
    cfg = StackConfig.from_env()
    ferretdb.start(cfg)
    kafka.start(cfg)
    return Infra(cfg, cfg.kafka_bootstrap, cfg.mongo_uri)


@pytest.fixture
async def topic_prefix(infra: Infra) -> str:
    """A fresh prefix with every topic of the catalogue created under it (2 partitions each)."""
    prefix = unique("t") + "."
    await ensure_topics(infra.kafka_bootstrap, prefix, max_partitions=2)
    return prefix
