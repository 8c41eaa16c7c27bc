"""The consumer loop against the real broker and FerretDB: delivery policy as a user sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts import ZaloEvent
from contracts.topics import ZALO_EVENTS
from servicekit.consumer import ConsumerLoop
from servicekit.errors import PermanentError, RetryableError
from servicekit.idempotency import IdempotencyStore
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer, Outgoing
from servicekit.settings import ServiceSettings
from servicekit.testing import poll_until, unique
from servicekit.tests.fixtures import key_of, zalo_event

pytestmark = pytest.mark.integration


@dataclass
class Deps:
    db: AsyncDatabase
    flaky_failures: dict[str, int] = field(default_factory=dict)


async def count_effect(event: ZaloEvent, deps: Deps) -> list[Outgoing]:
    """A deliberately non-idempotent effect: only the kit's idempotency keeps it single."""
    text = event.text or ""
    if text.startswith("poison"):
        raise PermanentError("cannot handle this record")
    if text.startswith("flaky"):
        left = deps.flaky_failures.get(event.event_id, 0)
        if left:
            deps.flaky_failures[event.event_id] = left - 1
            raise RetryableError("try again")
    if text.startswith("always-flaky"):
        raise RetryableError("never works")
    await deps.db.effects.update_one({"_id": event.event_id}, {"$inc": {"n": 1}}, upsert=True)
    return []


@dataclass
class Harness:
    settings: ServiceSettings
    mongo: AsyncMongoClient
    db: AsyncDatabase
    producer: EventProducer
    metrics: KitMetrics

    def loop(self, deps: Deps, cls: type[ConsumerLoop] = ConsumerLoop) -> ConsumerLoop:
        idem = IdempotencyStore(self.db, self.settings.group)
        return cls(self.settings, {ZALO_EVENTS: count_effect}, deps, self.producer, idem, self.metrics, rng=lambda: 1.0)

    async def send(self, event: ZaloEvent) -> None:
        await self.producer.publish(ZALO_EVENTS, key_of(event), event)

    async def send_raw(self, value: bytes) -> None:
        await self.producer.publish_raw(self.settings.topic(ZALO_EVENTS), b"k", value, [("trace", b"abc")])

    async def effect(self, event_id: str) -> int:
        doc = await self.db.effects.find_one({"_id": event_id})
        return doc["n"] if doc else 0

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def harness(infra, topic_prefix) -> AsyncIterator[Harness]:
    settings = ServiceSettings(
        service_name="kit-test",
        consumer_group=unique("g"),
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=infra.mongo_uri,
        mongo_db=unique("db"),
        topic_prefix=topic_prefix,
        max_attempts=3,
        retry_backoff_initial_s=0.01,
        retry_backoff_max_s=0.05,
    )
    metrics = KitMetrics(CollectorRegistry())
    mongo = AsyncMongoClient(infra.mongo_uri)
    db = mongo[settings.database]
    await IdempotencyStore(db, settings.group).ensure_indexes()
    producer = EventProducer(settings.kafka_bootstrap, metrics, topic_prefix)
    await producer.start()
    yield Harness(settings, mongo, db, producer, metrics)
    await producer.stop()
    await mongo.close()


async def read_dlq(h: Harness, expected: int) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=h.settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(h.settings.topic(ZALO_EVENTS + ".dlq"), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        records: list = []

        async def more():
            batch = await consumer.getmany(tp, timeout_ms=200)
            records.extend(batch.get(tp, []))
            return len(records) >= expected

        await poll_until(more, f"{expected} dead-lettered records")
        return records
    finally:
        await consumer.stop()


class _CrashBeforeCommit(ConsumerLoop):
    """Simulates a process that dies after handling but before committing offsets."""

    async def _commit(self, offsets):
        return None


async def test_redelivery_after_crash_before_commit_has_one_effect(harness: Harness):
    event = zalo_event(unique("e"))
    await harness.send(event)

    crashed = harness.loop(Deps(harness.db), _CrashBeforeCommit)
    await crashed.start()
    await poll_until(lambda: harness.effect(event.event_id), "the first delivery's effect")
    await crashed.stop()

    restarted = harness.loop(Deps(harness.db))
    await restarted.start()
    await poll_until(
        lambda: _async(harness.metric("zan_events_duplicate_total", topic=ZALO_EVENTS, group=harness.settings.group)),
        "the redelivery to be recognised",
    )
    await restarted.stop()
    assert await harness.effect(event.event_id) == 1


async def test_poison_record_goes_to_dlq_with_headers_and_later_records_still_flow(harness: Harness):
    poison, good = zalo_event(unique("e"), "poison pill"), zalo_event(unique("e"), "fine")
    await harness.send(poison)
    await harness.send(good)
    loop = harness.loop(Deps(harness.db))
    await loop.start()
    try:
        await poll_until(lambda: harness.effect(good.event_id), "the record after the poison one")
        (dead,) = await read_dlq(harness, 1)
    finally:
        await loop.stop()
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == poison.model_dump_json().encode()
    assert headers["dlq.error.type"] == "PermanentError"
    assert headers["dlq.error.message"] == "cannot handle this record"
    assert headers["dlq.reason"] == "permanent"
    assert headers["dlq.attempts"] == "1"
    assert headers["dlq.consumer.group"] == harness.settings.group
    assert headers["dlq.original.topic"] == harness.settings.topic(ZALO_EVENTS)
    assert int(headers["dlq.original.offset"]) >= 0 and headers["dlq.original.partition"].isdigit()
    assert await harness.effect(poison.event_id) == 0


async def test_non_json_record_goes_straight_to_dlq(harness: Harness):
    await harness.send_raw(b"{not json")
    good = zalo_event(unique("e"))
    await harness.send(good)
    loop = harness.loop(Deps(harness.db))
    await loop.start()
    try:
        (dead,) = await read_dlq(harness, 1)
        await poll_until(lambda: harness.effect(good.event_id), "the valid record")
    finally:
        await loop.stop()
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == b"{not json"
    assert headers["dlq.reason"] == "malformed"
    assert headers["dlq.attempts"] == "0"
    assert headers["trace"] == "abc", "the original headers travel with the record"


async def test_retryable_failure_is_retried_then_succeeds_or_is_dead_lettered(harness: Harness):
    flaky, hopeless = zalo_event(unique("e"), "flaky"), zalo_event(unique("e"), "always-flaky")
    deps = Deps(harness.db, flaky_failures={flaky.event_id: 2})
    await harness.send(flaky)
    await harness.send(hopeless)
    loop = harness.loop(deps)
    await loop.start()
    try:
        await poll_until(lambda: harness.effect(flaky.event_id), "the flaky record to succeed")
        (dead,) = await read_dlq(harness, 1)
    finally:
        await loop.stop()
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq.reason"] == "exhausted"
    assert headers["dlq.attempts"] == str(harness.settings.max_attempts)
    assert await harness.effect(flaky.event_id) == 1
    assert harness.metric("zan_events_retried_total", topic=ZALO_EVENTS, group=harness.settings.group) >= 2 + 2


async def _async(value):
    return value


def _same_partition_users(n: int, partitions: int) -> list[str]:
    """n user ids whose keys land on one partition (Kafka's default partitioner: murmur2 of the key)."""
    from aiokafka.partitioner import murmur2

    by_partition: dict[int, list[str]] = {}
    for i in range(10_000):
        user = str(246845883529197922 + i)
        key = key_of(zalo_event("x", user_id=user)).encode()
        group = by_partition.setdefault((murmur2(key) & 0x7FFFFFFF) % partitions, [])
        group.append(user)
        if len(group) == n:
            return group
    raise AssertionError("no partition with enough keys")


async def test_with_key_concurrency_a_slow_citizen_does_not_hold_up_the_others(harness: Harness):
    from contracts.topics import topic

    a, b, c = _same_partition_users(3, topic(ZALO_EVENTS).partitions)
    order: list[tuple[str, str]] = []

    async def slow_first(event: ZaloEvent, deps: Deps) -> list[Outgoing]:
        if event.text == "a1":
            await asyncio.sleep(1.5)
        order.append((event.user_id, event.text or ""))
        return []

    settings = harness.settings.model_copy(update={"key_concurrency": 4})
    idem = IdempotencyStore(harness.db, settings.group)
    loop = ConsumerLoop(settings, {ZALO_EVENTS: slow_first}, Deps(harness.db), harness.producer, idem, harness.metrics)
    sends = [(a, "a1"), (a, "a2"), (b, "b1"), (a, "a3"), (c, "c1")]
    for i, (user, text) in enumerate(sends):
        await harness.send(zalo_event(unique(f"e{i}"), text=text, user_id=user))
    await loop.start()
    try:

        async def all_handled() -> bool:
            return len(order) == 5

        await poll_until(all_handled, "all five records", 30)
    finally:
        await loop.stop()
    assert [t for u, t in order if u == a] == ["a1", "a2", "a3"], "one citizen's records stay in order"
    assert {t for _, t in order[:2]} == {"b1", "c1"}, f"the others went first: {order}"


async def test_records_a_filtered_handler_refuses_cost_no_idempotency_write(harness: Harness):
    from servicekit.consumer import Filtered

    calls: list[str] = []

    async def handler(event: ZaloEvent, deps: Deps) -> list[Outgoing]:
        calls.append(event.text or "")
        return []

    route = Filtered(handler, lambda e: e.text != "echo")
    idem = IdempotencyStore(harness.db, harness.settings.group)
    loop = ConsumerLoop(
        harness.settings, {ZALO_EVENTS: route}, Deps(harness.db), harness.producer, idem, harness.metrics
    )
    echo, wanted = zalo_event(unique("echo"), text="echo"), zalo_event(unique("in"), text="hello")
    await harness.send(echo)
    await harness.send(wanted)
    await loop.start()
    try:

        async def both_consumed() -> bool:
            return harness.metric("zan_events_consumed_total", topic=ZALO_EVENTS, group=harness.settings.group) >= 2

        await poll_until(both_consumed, "both records consumed", 30)
    finally:
        await loop.stop()
    assert calls == ["hello"]
    assert not await idem.seen(echo.event_id), "the refused record left no idempotency record"
    assert await idem.seen(wanted.event_id)


async def test_unguarded_records_skip_the_idempotency_store_and_guarded_ones_stay_single(harness: Harness):
    """`guarded` refuses records whose effect is idempotent by itself: a redelivery runs the handler again
    (harmless by design) while a guarded record is still handled once."""
    from servicekit.consumer import Filtered

    calls: list[str] = []

    async def handler(event: ZaloEvent, deps: Deps) -> list[Outgoing]:
        calls.append(event.text or "")
        return []

    route = Filtered(handler, lambda e: True, guarded=lambda e: e.text == "follow")
    idem = IdempotencyStore(harness.db, harness.settings.group)
    loop = ConsumerLoop(
        harness.settings, {ZALO_EVENTS: route}, Deps(harness.db), harness.producer, idem, harness.metrics
    )
    touch, follow = zalo_event(unique("t"), text="touch"), zalo_event(unique("f"), text="follow")
    for event in (touch, follow, touch, follow):  # each sent twice, as a producer retry would
        await harness.send(event)
    await loop.start()
    try:

        async def all_seen() -> bool:
            consumed = harness.metric("zan_events_consumed_total", topic=ZALO_EVENTS, group=harness.settings.group)
            dups = harness.metric("zan_events_duplicate_total", topic=ZALO_EVENTS, group=harness.settings.group)
            return consumed + dups >= 4

        await poll_until(all_seen, "all four records", 30)
    finally:
        await loop.stop()
    assert sorted(calls) == ["follow", "touch", "touch"]
    assert not await idem.seen(touch.event_id), "no idempotency record for the unguarded record"
    assert await idem.seen(follow.event_id)


class _CountingCommits(ConsumerLoop):
    commits: list[dict]

    async def _commit(self, offsets):
        self.commits = [*getattr(self, "commits", []), dict(offsets)]
        await super()._commit(offsets)


async def _committed(harness: Harness) -> int:
    probe = AIOKafkaConsumer(
        bootstrap_servers=harness.settings.kafka_bootstrap, group_id=harness.settings.group, enable_auto_commit=False
    )
    await probe.start()
    try:
        physical = harness.settings.topic(ZALO_EVENTS)
        return sum([(await probe.committed(TopicPartition(physical, p))) or 0 for p in range(2)])
    finally:
        await probe.stop()


async def test_offsets_are_committed_together_per_interval_and_on_drain(harness: Harness):
    """Handled records are committed in one request per interval, not one per batch; whatever is handled
    when the service drains is committed then (a restart re-reads nothing)."""
    harness.settings = harness.settings.model_copy(update={"commit_interval_s": 3600.0})
    events = [zalo_event(unique("e")) for _ in range(6)]
    loop = harness.loop(Deps(harness.db), _CountingCommits)
    await loop.start()
    try:
        for event in events:
            await harness.send(event)
            await poll_until(lambda event=event: harness.effect(event.event_id), "the record handled")
        assert getattr(loop, "commits", []) == [], "nothing committed before the interval is up"
    finally:
        await loop.stop()
    assert len(loop.commits) == 1, f"one commit request on drain, got {loop.commits}"
    assert await _committed(harness) == len(events)

    harness.settings = harness.settings.model_copy(update={"commit_interval_s": 0.2})
    more = [zalo_event(unique("e")) for _ in range(3)]
    loop = harness.loop(Deps(harness.db), _CountingCommits)
    await loop.start()
    try:
        for event in more:
            await harness.send(event)
        for event in more:
            await poll_until(lambda event=event: harness.effect(event.event_id), "the record handled")
        await poll_until(lambda: _committed_eq(harness, len(events) + len(more)), "commit within interval")
        assert harness.metric("zan_events_duplicate_total", topic=ZALO_EVENTS, group=harness.settings.group) == 0
    finally:
        await loop.stop()


async def _committed_eq(harness: Harness, n: int) -> bool:
    return await _committed(harness) == n
