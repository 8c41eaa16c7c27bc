"""The idempotent producer: acks=all, enable_idempotence, JSON of contract models, citizen keys.

A broker outage longer than the request timeout can leave an idempotent producer unusable for good:
aiokafka fails a batch that waited too long for a partition leader after it took its sequence
number, and the broker then refuses every later batch of that partition as out of order (measured
with `make chaos`: replies and webhooks stuck until a restart). `ProducerSession` replaces the
producer when the broker rejects its session; the failed send still raises, the caller retries it
with the new producer, and consumers' event_id deduplication absorbs any copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerIdMapping, OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId
from pydantic import BaseModel

from servicekit.metrics import KitMetrics

log = logging.getLogger("servicekit.producer")

BROKEN_SESSION = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerIdMapping, ProducerFenced)


class ProducerSession:
    """An idempotent AIOKafkaProducer (acks=all), replaced by a fresh one when the broker rejects its
    producer session. `current` is the producer to use now."""

    def __init__(self, connection: str | Mapping[str, Any], client_id: str, **config: Any) -> None:
        """`connection`: bootstrap servers, or the full options of `ServiceSettings.kafka()` (TLS, SASL)."""
        self._config = {
            **({"bootstrap_servers": connection} if isinstance(connection, str) else connection),
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 2,
            "request_timeout_ms": 15_000,
            "client_id": client_id,
        } | config
        self.current = AIOKafkaProducer(**self._config)
        self._lock = asyncio.Lock()
        self._retired: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.current.start()

    @contextlib.asynccontextmanager
    async def using(self) -> AsyncIterator[AIOKafkaProducer]:
        """The current producer for one send; if the send fails because the broker rejected the
        session, the producer is replaced before the error propagates."""
        producer = self.current
        try:
            yield producer
        except Exception as exc:
            await self.renew_if_broken(exc, producer)
            raise

    async def renew_if_broken(self, exc: BaseException, used: AIOKafkaProducer) -> bool:
        """Replace `used` if `exc` says the broker rejected its session; True when it was replaced."""
        if not isinstance(exc, BROKEN_SESSION):
            return False
        async with self._lock:
            if self.current is used:
                log.warning(
                    "kafka rejected the producer session; starting a new producer", extra={"error": type(exc).__name__}
                )
                fresh = AIOKafkaProducer(**self._config)
                await fresh.start()
                self.current = fresh
                task = asyncio.create_task(_retire(used))
                self._retired.add(task)
                task.add_done_callback(self._retired.discard)
        return True

    async def stop(self) -> None:
        await self.current.stop()
        await asyncio.gather(*self._retired, return_exceptions=True)


async def _retire(producer: AIOKafkaProducer) -> None:
    """Close a broken producer without waiting on batches it can never send."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), 5.0)


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

    def __init__(
        self, connection: str | Mapping[str, Any], metrics: KitMetrics, topic_prefix: str = "", client_id: str = "zan"
    ) -> None:
        self._session = ProducerSession(connection, client_id)
        self._metrics = metrics
        self._prefix = topic_prefix

    async def start(self) -> None:
        await self._session.start()

    async def stop(self) -> None:
        await self._session.stop()

    def physical(self, topic: str) -> str:
        return self._prefix + topic

    async def publish(self, topic: str, key: str, event: BaseModel, headers: Sequence[tuple[str, bytes]] = ()) -> None:
        """Send one record and wait until it is durable (acks=all)."""
        async with self._session.using() as producer:
            await producer.send_and_wait(
                self.physical(topic), encode(event), key=key.encode(), headers=list(headers) or None
            )
        self._metrics.published.labels(topic).inc()

    async def publish_raw(
        self, physical_topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Send bytes as they are (dead-letter copies keep the original record byte for byte)."""
        async with self._session.using() as producer:
            await producer.send_and_wait(physical_topic, value, key=key, headers=list(headers))

    async def publish_all(self, records: Sequence[Outgoing]) -> None:
        """Send several records; all are acknowledged when this returns (order kept per key)."""
        async with self._session.using() as producer:
            futures = [
                await producer.send(self.physical(r.topic), encode(r.event), key=r.key.encode()) for r in records
            ]
            for r, fut in zip(records, futures, strict=True):
                await fut
                self._metrics.published.labels(r.topic).inc()

    async def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        """True when a broker answers a metadata request within the timeout."""
        try:
            await asyncio.wait_for(self._session.current.client.fetch_all_metadata(), timeout_s)
        except Exception:
            return False
        return True
