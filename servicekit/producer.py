"""The idempotent producer: acks=all, enable_idempotence, JSON of contract models, citizen keys."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from servicekit.metrics import KitMetrics


@dataclass(frozen=True)
class Outgoing:
    """A record a handler wants published: logical topic name, partition key, contract model."""

    topic: str
    key: str
    event: BaseModel


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json(exclude_none=False).encode()


class EventProducer:
    """Publishes contract models and waits for the broker's acknowledgement (never fire-and-forget)."""

    def __init__(self, bootstrap: str, metrics: KitMetrics, topic_prefix: str = "", client_id: str = "zan") -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=15_000,
            client_id=client_id,
        )
        self._metrics = metrics
        self._prefix = topic_prefix

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    def physical(self, topic: str) -> str:
        return self._prefix + topic

    async def publish(self, topic: str, key: str, event: BaseModel, headers: Sequence[tuple[str, bytes]] = ()) -> None:
        """Send one record and wait until it is durable (acks=all)."""
        await self._producer.send_and_wait(
            self.physical(topic), encode(event), key=key.encode(), headers=list(headers) or None
        )
        self._metrics.published.labels(topic).inc()

    async def publish_raw(
        self, physical_topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Send bytes as they are (dead-letter copies keep the original record byte for byte)."""
        await self._producer.send_and_wait(physical_topic, value, key=key, headers=list(headers))

    async def publish_all(self, records: Sequence[Outgoing]) -> None:
        """Send several records; all are acknowledged when this returns (order kept per key)."""
        futures = [
            await self._producer.send(self.physical(r.topic), encode(r.event), key=r.key.encode()) for r in records
        ]
        for r, fut in zip(records, futures, strict=True):
            await fut
            self._metrics.published.labels(r.topic).inc()

    async def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        """True when a broker answers a metadata request within the timeout."""
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout_s)
        except Exception:
            return False
        return True
