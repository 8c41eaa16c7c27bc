"""The generated KafkaUsers' ACLs (base/kafka/kafka-kafkausers.yaml) on a real broker that enforces them.

A private broker of its own (devstack.kafka.private_broker: own ports and run folder, the installed jars,
StandardAuthorizer), so the shared test broker stays as it is; stopped at the end, also on failure. Its
SASL listener has a PLAIN user per KafkaUser; the ACLs of the file are created as they are, the topic names
under a test prefix. Each service then connects as its user with the settings class every service uses,
and does what contracts/topics.toml says it does (allowed) and what it does not (denied).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from contracts.topics import REPORTS_LIFECYCLE, ZALO_EVENTS, ZALO_OUTBOUND_BULK, dead_letter_topic, load_topics
from deploy.k8s.generate import BASE, KAFKA_USER_OF, KEDA_USER, OPS_USER
from devstack import kafka
from devstack.paths import StackConfig
from devstack.topics import ensure_topics
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.settings import ServiceSettings
from servicekit.testing import poll_until, unique
from services.gateway.handlers import BULK_HANDLERS, HANDLERS
from services.gateway.sync import PRODUCER as SYNC_PRODUCER

pytestmark = pytest.mark.integration

USERS_FILE = BASE / "kafka" / "kafka-kafkausers.yaml"
PREFIX = "acl."
EGRESS = "gateway-egress"
BULK_GROUP = f"{EGRESS}-bulk"  # servicekit/service.py: side loop "bulk" of the egress
TOPICS = [t.name for t in load_topics()]


def _kafka_users() -> dict[str, list[dict]]:
    docs = yaml.safe_load_all(USERS_FILE.read_text(encoding="utf-8"))
    return {d["metadata"]["name"]: d["spec"]["authorization"]["acls"] for d in docs if d["kind"] == "KafkaUser"}


def _enum(name: str) -> str:
    """Strimzi's spelling as Kafka's Java enum constant: IdempotentWrite -> IDEMPOTENT_WRITE."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper()


def _bindings(users: dict[str, list[dict]]) -> list[kafka.AclBinding]:
    """The KafkaUsers' ACLs as the broker's bindings, topic names under the test prefix."""
    out = []
    for user, acls in users.items():
        for acl in acls:
            r = acl["resource"]
            name = PREFIX + r["name"] if r["type"] == "topic" else r["name"]
            for op in acl["operations"]:
                out.append((f"User:{user}", _enum(r["type"]), _enum(r.get("patternType", "literal")), name, _enum(op)))
    return out


@dataclass(frozen=True)
class Catalogue:
    """What contracts/topics.toml (and the code, for the egress's two groups) says each user does."""

    writes: dict[str, set[str]]
    groups: dict[str, dict[str, list[str]]]  # user -> its consumer groups -> the topics each consumes

    @classmethod
    def load(cls) -> Catalogue:
        writes: dict[str, set[str]] = defaultdict(set)
        groups: dict[str, dict[str, list[str]]] = defaultdict(dict)
        for spec in load_topics():
            if spec.dead_letter_of is not None:
                continue
            for producer in spec.producers:
                writes[KAFKA_USER_OF.get(producer) or producer].add(spec.name)
            for consumer in spec.consumers:
                writes[consumer].add(dead_letter_topic(spec.name))
                groups[consumer].setdefault(consumer, []).append(spec.name)
        # The egress consumes in two loops, each with its group (services/gateway/egress.py).
        groups[EGRESS] = {EGRESS: list(HANDLERS), BULK_GROUP: list(BULK_HANDLERS)}
        return cls(dict(writes), dict(groups))

    def reads(self, user: str) -> set[str]:
        return {t for topics in self.groups.get(user, {}).values() for t in topics}


CATALOGUE = Catalogue.load()
SERVICES = sorted(CATALOGUE.writes)


@dataclass(frozen=True)
class Broker:
    cfg: StackConfig
    passwords: dict[str, str]

    def settings(self, user: str) -> ServiceSettings:
        return ServiceSettings(
            service_name=user,
            kafka_bootstrap=self.cfg.kafka_sasl_bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username=user,
            kafka_sasl_password=SecretStr(self.passwords[user]),
            topic_prefix=PREFIX,
        )


@pytest.fixture(scope="module")
async def broker() -> AsyncIterator[Broker]:
    users = _kafka_users()
    expected = set(SERVICES) | {KEDA_USER, OPS_USER}
    assert expected == set(users), f"KafkaUsers {sorted(users)} != catalogue {SERVICES} + keda + ops"
    passwords = {u: secrets.token_hex(12) for u in users}
    stack = contextlib.ExitStack()
    try:
        cfg = await asyncio.to_thread(stack.enter_context, kafka.private_broker(unique("acl-"), passwords))
        await ensure_topics(cfg.kafka_bootstrap, PREFIX, max_partitions=1)
        await asyncio.to_thread(kafka.create_acls, cfg, _bindings(users))
        # One record in every topic, as the broker's super user (PLAINTEXT: ANONYMOUS).
        seed = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap)
        await seed.start()
        try:
            await asyncio.gather(*(seed.send_and_wait(PREFIX + t, b"seed") for t in TOPICS))
        finally:
            await seed.stop()
        yield Broker(cfg, passwords)
    finally:
        await asyncio.to_thread(stack.close)  # stops the broker and deletes its folder


def _producer(settings: ServiceSettings, client_id: str | None = None) -> EventProducer:
    """The services' producer: idempotent, acks=all (no cluster ACL for IdempotentWrite is granted)."""
    return EventProducer(settings.kafka(), KitMetrics(CollectorRegistry()), PREFIX, client_id or settings.service_name)


async def _consume_and_commit(settings: ServiceSettings, group: str, topics: list[str]) -> dict[str, int]:
    """Join `group` as ConsumerLoop does, read every topic to its end and commit: the committed offsets."""
    physical = {settings.topic(t) for t in topics}
    consumer = AIOKafkaConsumer(
        **settings.kafka(), group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.subscribe(sorted(physical))
        async with asyncio.timeout(20):
            while True:
                await consumer.getmany(timeout_ms=200)
                tps = consumer.assignment()
                if {tp.topic for tp in tps} == physical:
                    ends = await consumer.end_offsets(list(tps))
                    positions = {tp: await consumer.position(tp) for tp in tps}
                    if all(positions[tp] >= ends[tp] for tp in tps):
                        break
        await consumer.commit()
        return {tp.topic: await consumer.committed(tp) or 0 for tp in tps}
    finally:
        await consumer.stop()


@pytest.mark.parametrize("user", SERVICES)
async def test_a_service_writes_what_it_produces_and_its_dead_letters_and_nothing_else(broker, user):
    settings = broker.settings(user)
    allowed = sorted(CATALOGUE.writes[user])
    producer = _producer(settings)
    await producer.start()
    try:
        for t in allowed:
            await producer.publish_raw(settings.topic(t), b"k", b"allowed", [])
        # Idempotent, and the broker gave it a producer id without any cluster ACL (IdempotentWrite).
        txn = producer._session.current._txn_manager
        assert txn is not None and txn.has_pid(), "no idempotent producer session"
        for t in sorted(set(TOPICS) - set(allowed)):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.publish_raw(settings.topic(t), b"k", b"denied", [])
    finally:
        await producer.stop()


async def test_the_follower_sync_writes_zalo_events_as_the_egress(broker):
    # `python -m services.gateway.sync` runs in an egress pod, with the egress's user.
    settings = broker.settings(KAFKA_USER_OF[SYNC_PRODUCER])
    producer = _producer(settings, SYNC_PRODUCER)
    await producer.start()
    try:
        await producer.publish_raw(settings.topic(ZALO_EVENTS), b"k", b"follow", [])
    finally:
        await producer.stop()


@pytest.mark.parametrize("user", [u for u in SERVICES if u in CATALOGUE.groups])
async def test_a_service_consumes_with_its_groups_and_commits(broker, user):
    settings = broker.settings(user)
    for group, topics in CATALOGUE.groups[user].items():
        committed = await _consume_and_commit(settings, group, topics)
        assert all(offset > 0 for offset in committed.values()), f"{user} as {group}: committed {committed}"


@pytest.mark.parametrize("user", SERVICES)
async def test_a_service_reads_no_topic_it_does_not_consume_nor_another_group(broker, user):
    settings = broker.settings(user)
    # Topics it may describe (it writes them) but not read: the broker must refuse the fetch itself.
    written_only = sorted(CATALOGUE.writes[user] - CATALOGUE.reads(user))
    if user == "reports":
        written_only.remove(REPORTS_LIFECYCLE)  # the case feed reads it (test below)
    consumer = AIOKafkaConsumer(**settings.kafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        for t in written_only:
            tp = TopicPartition(settings.topic(t), 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            with pytest.raises(TopicAuthorizationFailedError):
                async with asyncio.timeout(10):
                    while True:
                        await consumer.getmany(tp, timeout_ms=200)
    finally:
        await consumer.stop()
    others = {g for u, groups in CATALOGUE.groups.items() if u != user for g in groups}
    if user == "news":
        others.discard(BULK_GROUP)  # its backlog probe describes the egress's bulk group (test below)
    admin = AIOKafkaAdminClient(**settings.kafka(), request_timeout_ms=5000)
    await admin.start()
    try:
        for group in sorted(others):
            with pytest.raises(GroupAuthorizationFailedError):
                await admin.find_coordinator(group)
    finally:
        await admin.close()


async def test_the_news_backlog_probe_reads_the_egress_bulk_group(broker):
    from services.news.backlog import EgressBacklog

    news, egress = broker.settings("news"), broker.settings(EGRESS)
    await _consume_and_commit(egress, BULK_GROUP, [ZALO_OUTBOUND_BULK])
    probe = EgressBacklog(news.kafka(), news.topic(ZALO_OUTBOUND_BULK), BULK_GROUP, limit=10, poll_s=0)
    producer = _producer(news)
    await producer.start()
    try:
        assert await probe.lag() == 0, "the probe could not read the bulk group's offsets as news"
        for _ in range(2):
            await producer.publish_raw(news.topic(ZALO_OUTBOUND_BULK), b"k", b"campaign", [])
        assert await probe.lag() == 2
    finally:
        await producer.stop()
        await probe.close()


async def test_the_reports_case_feed_reads_the_lifecycle_without_a_group(broker):
    settings = broker.settings("reports")
    consumer = AIOKafkaConsumer(**settings.kafka(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.subscribe([settings.topic(REPORTS_LIFECYCLE)])  # as services/reports/caseindex.py

        async def assigned() -> set[TopicPartition]:
            return consumer.assignment()

        tps = sorted(await poll_until(assigned, "the lifecycle partitions assigned", timeout=10))
        assert (await consumer.end_offsets(tps))[tps[0]] > 0
        await consumer.seek_to_beginning(*tps)
        batch = await consumer.getmany(*tps, timeout_ms=5000)
        assert any(batch.values()), "no lifecycle record read"
    finally:
        await consumer.stop()


async def test_keda_reads_group_lag_and_nothing_else(broker):
    keda = broker.settings(KEDA_USER)
    # What the ScaledObjects' kafka triggers read: every (group, topic) of a consumer that scales on lag.
    lag = sorted((c, t.name) for t in load_topics() if t.dead_letter_of is None and t.scale_on_lag for c in t.consumers)
    groups = sorted({g for g, _ in lag})
    # Each group commits an offset on its topics (as its service), then KEDA reads it and the end offsets.
    for group in groups:
        settings = broker.settings(group)
        tps = [TopicPartition(settings.topic(t), 0) for g, t in lag if g == group]
        committer = AIOKafkaConsumer(**settings.kafka(), group_id=group, enable_auto_commit=False)
        await committer.start()
        try:
            committer.assign(tps)
            await committer.commit(dict.fromkeys(tps, 1))
        finally:
            await committer.stop()
    admin = AIOKafkaAdminClient(**keda.kafka(), request_timeout_ms=5000)
    await admin.start()
    reader = AIOKafkaConsumer(**keda.kafka(), enable_auto_commit=False)
    await reader.start()
    try:
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            read = {tp.topic for tp, meta in offsets.items() if meta.offset >= 1}
            assert read >= {keda.topic(t) for g, t in lag if g == group}, f"KEDA reads of group {group}: {offsets}"
        tps = [TopicPartition(keda.topic(t), 0) for t in sorted({t for _, t in lag})]
        ends = await reader.end_offsets(tps)
        assert all(end > 0 for end in ends.values()), ends
        for tp in tps:
            reader.assign([tp])
            reader.seek(tp, 0)
            with pytest.raises(TopicAuthorizationFailedError):  # Describe only: no record may be read
                async with asyncio.timeout(10):
                    while True:
                        await reader.getmany(tp, timeout_ms=200)
    finally:
        await reader.stop()
        await admin.close()
    producer = AIOKafkaProducer(**keda.kafka())
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(keda.topic(ZALO_EVENTS), b"denied")
    finally:
        await producer.stop()
    # Nor may it move a group's offsets (OffsetCommit needs Read on the group).
    group, topic = lag[0]
    tps = [TopicPartition(keda.topic(topic), 0)]
    committer = AIOKafkaConsumer(**keda.kafka(), group_id=group, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(tps)
        with pytest.raises(GroupAuthorizationFailedError):
            await committer.commit(dict.fromkeys(tps, 0))
    finally:
        await committer.stop()


async def test_people_on_call_read_dead_letters_replay_them_and_read_lag(broker):
    """docs/runbooks.md as the KafkaUser ops: read a dead-letter topic with the group ops, write the record back
    to its original topic, read a group's lag; never write a dead-letter topic or a topic nobody dead-letters."""
    ops = broker.settings(OPS_USER)
    dlq = dead_letter_topic(ZALO_EVENTS)
    committed = await _consume_and_commit(ops, OPS_USER, [dlq])
    assert committed[ops.topic(dlq)] >= 1, "the dead letters read and committed as group ops"
    producer = _producer(ops)
    await producer.start()
    try:
        await producer.publish_raw(ops.topic(ZALO_EVENTS), b"k", b"replayed", [])
        for denied in (dlq, REPORTS_LIFECYCLE):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.publish_raw(ops.topic(denied), b"k", b"denied", [])
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(**ops.kafka(), request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_consumer_group_offsets("intent")  # kafka-consumer-groups.sh --describe
    finally:
        await admin.close()
