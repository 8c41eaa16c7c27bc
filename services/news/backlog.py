"""Backpressure from the egress: how many campaign commands wait on the bulk topic, unconsumed.

The news service does not know how fast Zalo lets the egress send campaign messages (that depends on
the app-wide limit and on the replies of the moment), so it does not guess a rate: it produces while
the egress consumer group's backlog on `zalo.outbound.bulk.v1` is under `max_egress_backlog`, and
waits otherwise. The send rate then follows what the egress achieves, and the queue stays short:
a pause, a cancel or an unfollow takes effect within seconds instead of behind a long queue of
commands already produced.

Lag = sum over partitions of (end offset - the group's committed offset). A group that has committed
nothing on the topic yet (no egress deployed, or a fresh topic) exerts no backpressure: the fixed
rate ceiling (`max_campaign_sends_per_s`) still applies. A broker that cannot be asked counts as no
backpressure too; producing itself will then wait for the broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger("news.backlog")


class EgressBacklog:
    """Waits while the egress has more than `limit` campaign commands to consume."""

    def __init__(self, connection: Mapping[str, Any], topic: str, group: str, limit: int, poll_s: float = 0.25) -> None:
        self.connection = dict(connection)  # ServiceSettings.kafka(): bootstrap, TLS, SASL
        self.topic = topic
        self.group = group
        self.limit = limit
        self.poll_s = poll_s
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._last: tuple[float, int | None] = (0.0, None)

    async def wait_room(self) -> None:
        """Return once the backlog is under the limit (at once when the limit is 0: disabled)."""
        if self.limit <= 0:
            return
        while True:
            lag = await self.lag()
            if lag is None or lag < self.limit:
                return
            await asyncio.sleep(self.poll_s)

    async def lag(self) -> int | None:
        """The group's backlog on the topic (cached for `poll_s`); None when it cannot be known."""
        async with self._lock:
            at, value = self._last
            if time.monotonic() - at < self.poll_s:
                return value
            try:
                value = await self._measure()
            except Exception as exc:
                log.warning("egress backlog unknown: %s", type(exc).__name__)
                await self.close()
                value = None
            self._last = (time.monotonic(), value)
            return value

    async def _measure(self) -> int | None:
        if self._admin is None or self._offsets is None:
            self._admin = AIOKafkaAdminClient(**self.connection, request_timeout_ms=5000)
            await self._admin.start()
            self._offsets = AIOKafkaConsumer(**self.connection, enable_auto_commit=False)
            await self._offsets.start()
        committed = await self._admin.list_consumer_group_offsets(self.group)
        mine = {tp: meta.offset for tp, meta in committed.items() if tp.topic == self.topic and meta.offset >= 0}
        if not mine:
            return None
        partitions = self._offsets.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)] or list(mine)
        ends = await self._offsets.end_offsets(tps)
        missing = [tp for tp in tps if tp not in mine]  # nothing consumed there yet: count from the log start
        starts = await self._offsets.beginning_offsets(missing) if missing else {}
        return sum(max(0, end - mine.get(tp, starts.get(tp, 0))) for tp, end in ends.items())

    async def close(self) -> None:
        admin, offsets = self._admin, self._offsets
        self._admin = self._offsets = None
        for client in (admin, offsets):
            if client is not None:
                try:
                    await client.close() if isinstance(client, AIOKafkaAdminClient) else await client.stop()
                except Exception as exc:  # closing a client of a broker that went away
                    log.debug("closing a Kafka client failed: %s", type(exc).__name__)
