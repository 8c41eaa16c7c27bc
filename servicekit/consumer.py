"""The one consumer loop, with a named delivery policy: AT_LEAST_ONCE_IDEMPOTENT.

For each record, in partition order (or, with `key_concurrency` > 1, in order per key: records of
different keys of one fetched batch are handled at once, up to that many keys):
1. decode into the topic's contract model; a record that is not JSON or not valid goes straight
   to `<topic>.dlq` (reason `malformed`);
2. skip it if its event_id is in the idempotency store (a redelivery: counted, never an error);
3. run the handler, publish what it returns (acks=all), then record the event_id as handled;
4. commit `offset + 1` once the partition's batch is done, up to the first record not done, so nothing
   unhandled is ever committed. Commits are gathered: one request for every partition at most each
   `commit_interval_s` (a commit per batch cost every consumer a Kafka round trip per message at low
   rates), and always on partition revoke and on drain. A crash loses at most that interval of
   commits: those records are redelivered and absorbed by step 2.

Failures: `RetryableError` is retried with exponential backoff and full jitter, up to
`max_attempts`, then dead-lettered (reason `exhausted`); any other exception is dead-lettered at
once (reason `permanent`); failures of the environment (MongoDB or Kafka unreachable, timeouts)
are retried without limit, because the record is fine and dead-lettering it would only move the
outage into the DLQ. Nothing is committed before it was handled or dead-lettered, so a crash at any
point means redelivery, and redelivery is absorbed by step 2 and by deterministic derived ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from pydantic import BaseModel, ValidationError

from contracts.topics import dead_letter_topic, topic
from servicekit.errors import RetryableError, is_infrastructure_error
from servicekit.idempotency import IdempotencyStore
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer, Outgoing
from servicekit.settings import ServiceSettings

log = logging.getLogger("servicekit.consumer")

D = TypeVar("D")
Handler = Callable[[Any, D], Awaitable[Sequence[Outgoing]]]

POLICY = "AT_LEAST_ONCE_IDEMPOTENT"


class Filtered(Generic[D]):
    """A handler that has no effect on the records `wants` refuses. The loop skips those before the
    idempotency store: no read, no write (during a broadcast, Zalo's echoes of the OA's own messages
    are most of zalo.events.v1, and every consumer of it ignores them).

    `guarded` (default: every record) says which wanted records need the idempotency store. A record it
    refuses has effects that are idempotent by themselves (e.g. a `$max` of the last interaction time):
    handling it twice is harmless, so the loop spends no read and no write on it."""

    def __init__(
        self, handler: Handler[D], wants: Callable[[Any], bool], guarded: Callable[[Any], bool] | None = None
    ) -> None:
        self.handler = handler
        self.wants = wants
        self.guarded = guarded or (lambda _: True)

    async def __call__(self, event: Any, deps: D) -> Sequence[Outgoing]:
        return await self.handler(event, deps) if self.wants(event) else []


def self_deduplicating(handler: Handler[D], wants: Callable[[Any], bool] = lambda _: True) -> Filtered[D]:
    """A handler that keeps its own, stronger record of what it has done (a claim or a state document
    written atomically with the effect): the loop's idempotency store would only repeat it, at two
    MongoDB round trips per record."""
    return Filtered(handler, wants, guarded=lambda _: False)


class _Stopping(Exception):
    """Raised inside a retry loop when the service is draining: leave the record uncommitted."""


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, loop: ConsumerLoop[Any]) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Wait for the batch in flight, then commit what is done of the revoked partitions while they are ours.
        async with self._loop.batch_lock:
            await self._loop.flush_commits(set(revoked))
            for tp in revoked:
                self._loop.forget_partition(tp)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._loop.joined = True


class ConsumerLoop(Generic[D]):
    """Consumes the routed topics of one service and applies the delivery policy above."""

    def __init__(
        self,
        settings: ServiceSettings,
        routes: Mapping[str, Handler[D]],
        deps: D,
        producer: EventProducer,
        idempotency: IdempotencyStore,
        metrics: KitMetrics,
        *,
        group: str | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.routes = dict(routes)
        self.deps = deps
        self.producer = producer
        self.idempotency = idempotency
        self.metrics = metrics
        self.rng = rng
        self.group = group or settings.group
        self.batch_lock = asyncio.Lock()
        self.joined = False
        self._physical = {settings.topic(t): t for t in self.routes}
        self._models: dict[str, type[BaseModel]] = {}
        for t in self.routes:
            model = topic(t).model
            if model is None:
                raise ValueError(f"{t} has no contract model")
            self._models[t] = model
        self._consumer: AIOKafkaConsumer | None = None
        self._uncommitted: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._last_commit = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **self.settings.kafka(),
            group_id=self.group,
            client_id=f"{self.settings.service_name}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
            session_timeout_ms=15_000,
            heartbeat_interval_ms=3_000,
        )
        self._consumer.subscribe(topics=list(self._physical), listener=_Rebalance(self))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group}")

    async def stop(self) -> None:
        """Drain: finish the record in hand, commit what is done, leave the group, close."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.settings.drain_timeout_s)
            except TimeoutError:
                log.warning("drain timed out; cancelling", extra={"group": self.group})
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def ready(self) -> bool:
        return self.running and self.joined

    def forget_partition(self, tp: TopicPartition) -> None:
        with contextlib.suppress(KeyError):
            self.metrics.lag.remove(self._physical.get(tp.topic, tp.topic), str(tp.partition), self.group)

    # the loop ------------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=300, max_records=self.settings.max_batch)
            except Exception as exc:  # broker away: aiokafka reconnects by itself
                log.warning("fetch failed: %s", type(exc).__name__, extra={"group": self.group})
                await self._pause(1.0)
                continue
            if batches:
                async with self.batch_lock:
                    await asyncio.gather(*(self._process_partition(tp, recs) for tp, recs in batches.items()))
            if time.monotonic() - self._last_commit >= self.settings.commit_interval_s:
                async with self.batch_lock:
                    await self.flush_commits()
            await self._update_lag()
        async with self.batch_lock:
            await self.flush_commits()

    async def _process_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        assert self._consumer is not None
        done: set[int] = set()
        try:
            if self.settings.key_concurrency > 1:
                await self._handle_by_key(records, done)
            else:
                for rec in records:
                    if self._stopping.is_set():
                        break
                    await self._handle(rec)
                    done.add(rec.offset)
        except _Stopping:
            pass
        finally:
            # The first record not done (all records before it are): commit up to it, fetch again from it.
            first_open = next((r.offset for r in records if r.offset not in done), None)
            if first_open is None:
                self._uncommitted[tp] = records[-1].offset + 1
            else:
                if first_open != records[0].offset:
                    self._uncommitted[tp] = first_open
                # Drained early: fetched-but-unhandled records must be fetched again, not skipped
                # (any handled after it are redelivered and absorbed by the idempotency store).
                self._consumer.seek(tp, first_open)

    async def _handle_by_key(self, records: list[ConsumerRecord], done: set[int]) -> None:
        """Each key's records in order, up to `key_concurrency` keys at once."""
        by_key: dict[bytes | None, list[ConsumerRecord]] = {}
        for rec in records:
            by_key.setdefault(rec.key, []).append(rec)
        gate = asyncio.Semaphore(self.settings.key_concurrency)

        async def one_key(recs: list[ConsumerRecord]) -> None:
            async with gate:
                for rec in recs:
                    if self._stopping.is_set():
                        return
                    await self._handle(rec)
                    done.add(rec.offset)

        results = await asyncio.gather(*(one_key(recs) for recs in by_key.values()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, _Stopping):
                raise result

    async def flush_commits(self, only: set[TopicPartition] | None = None) -> None:
        """Commit what is done (of `only` these partitions, or all) in one request."""
        offsets = {tp: o for tp, o in self._uncommitted.items() if only is None or tp in only}
        for tp in offsets:
            del self._uncommitted[tp]
        if only is None:
            self._last_commit = time.monotonic()
        if offsets:
            await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        try:
            await self._consumer.commit(offsets)
        except Exception as exc:
            # Lost the partition or the broker: the records will be redelivered and deduplicated.
            log.warning("commit failed: %s", type(exc).__name__, extra={"group": self.group})

    async def _handle(self, rec: ConsumerRecord) -> None:
        logical = self._physical[rec.topic]
        started = time.perf_counter()
        try:
            event = self._models[logical].model_validate_json(rec.value or b"")
        except (ValidationError, ValueError, json.JSONDecodeError) as exc:
            await self._dead_letter(rec, logical, exc, attempts=0, reason="malformed")
            return

        route = self.routes[logical]
        if isinstance(route, Filtered) and not route.wants(event):
            self.metrics.consumed.labels(logical, self.group).inc()
            return
        guarded = not isinstance(route, Filtered) or route.guarded(event)
        attempt = 0
        while True:
            attempt += 1
            try:
                if guarded and await self.idempotency.seen(event.event_id):
                    self.metrics.duplicates.labels(logical, self.group).inc()
                    return
                outgoing = await route(event, self.deps)
                await self.producer.publish_all(outgoing)
                if guarded:
                    await self.idempotency.mark(event.event_id, logical)
                self.metrics.consumed.labels(logical, self.group).inc()
                self.metrics.handler_latency.labels(logical, self.group).observe(time.perf_counter() - started)
                return
            except Exception as exc:
                self.metrics.failed.labels(logical, self.group, type(exc).__name__).inc()
                if is_infrastructure_error(exc):
                    log.warning(
                        "infrastructure unavailable, retrying",
                        extra={"group": self.group, "topic": logical, "error": type(exc).__name__, "attempt": attempt},
                    )
                    await self._backoff(attempt)
                    continue
                if isinstance(exc, RetryableError) and attempt < self.settings.max_attempts:
                    self.metrics.retried.labels(logical, self.group).inc()
                    await self._backoff(attempt)
                    continue
                reason = "exhausted" if isinstance(exc, RetryableError) else "permanent"
                await self._dead_letter(rec, logical, exc, attempts=attempt, reason=reason)
                return

    async def _backoff(self, attempt: int) -> None:
        cap = min(self.settings.retry_backoff_max_s, self.settings.retry_backoff_initial_s * 2 ** (attempt - 1))
        await self._pause(cap * self.rng())  # full jitter

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Stopping

    async def _dead_letter(
        self, rec: ConsumerRecord, logical: str, exc: BaseException, attempts: int, reason: str
    ) -> None:
        stack = (
            " | ".join(line.strip() for line in traceback.format_tb(exc.__traceback__)[-3:])
            if exc.__traceback__
            else ""
        )
        headers = [
            ("dlq.error.type", type(exc).__name__.encode()),
            ("dlq.error.message", _safe_message(exc).encode()),
            ("dlq.error.stack", stack[:2000].encode()),
            ("dlq.reason", reason.encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.consumer.group", self.group.encode()),
            ("dlq.original.topic", rec.topic.encode()),
            ("dlq.original.partition", str(rec.partition).encode()),
            ("dlq.original.offset", str(rec.offset).encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
            *[(k, v) for k, v in (rec.headers or ()) if not k.startswith("dlq.")],
        ]
        physical_dlq = self.settings.topic(dead_letter_topic(logical))
        while True:
            try:
                await self.producer.publish_raw(physical_dlq, rec.key, rec.value, headers)
                break
            except Exception as pub_exc:
                log.warning("dead-letter publish failed, retrying", extra={"error": type(pub_exc).__name__})
                await self._pause(1.0)
        self.metrics.dead_lettered.labels(logical, self.group, reason).inc()
        log.error(
            "record dead-lettered",
            extra={
                "group": self.group,
                "topic": logical,
                "partition": rec.partition,
                "offset": rec.offset,
                "reason": reason,
                "error": type(exc).__name__,
            },
        )

    async def _update_lag(self) -> None:
        if self._consumer is None:
            return
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                continue
            try:
                pos = await self._consumer.position(tp)
            except Exception:  # noqa: S112 - partition revoked meanwhile; its gauge goes on revoke
                continue
            self.metrics.lag.labels(self._physical.get(tp.topic, tp.topic), str(tp.partition), self.group).set(
                max(0, high - pos)
            )


def _safe_message(exc: BaseException) -> str:
    """The exception message, cut short; validation errors list locations only (no input values)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())[:500]
    return str(exc)[:500]
