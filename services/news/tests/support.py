"""Builders and harnesses shared by the news service's tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jwt
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts import CitizenIntent, DeliveryOutcome, NewsPreference, OutboundCommand, ZaloEvent, citizen_key
from contracts.topics import CITIZEN_INTENTS, ZALO_DELIVERY, ZALO_EVENTS, ZALO_OUTBOUND, ZALO_OUTBOUND_BULK
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.registry import load_registry
from servicekit.service import KIT
from servicekit.testing import poll_until, unique
from services.news.app import create_app
from services.news.domain import Subscriber
from services.news.settings import NewsSettings
from services.news.store import subscriber_doc

REGISTRY = load_registry()
APP_ID = REGISTRY.app_id
SECRET = "test-news-jwt-secret-0123456789abcdef0123"
ISSUER = NewsSettings.model_fields["jwt_issuer"].default
AUDIENCE = NewsSettings.model_fields["jwt_audience"].default
COVER = "https://cdn.example.vn/cover.jpg"
LINK = "https://congan.example.vn/tin/1"


def oa(key: str):
    return REGISTRY.by_key(key)


def token(sub: str, role: str, unit: str = "tanphu", secret: str = SECRET, **extra: Any) -> str:
    claims = {"sub": sub, "role": role, "unit": unit, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")


def campaign_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Cảnh báo thủ đoạn lừa đảo qua điện thoại",
        "summary": "Công an phường cảnh báo người dân về thủ đoạn giả danh cán bộ để chiếm đoạt tài sản.",
        "cover_url": COVER,
        "body": [{"type": "text", "content": "Nội dung chi tiết của cảnh báo."}],
        "link": LINK,
        "target": {"everyone": True},
        "channels": {"article": True, "direct": True, "allow_billed": False},
    }
    body.update(overrides)
    return body


def follower(
    oa_key: str, user_id: str, *, active_hours_ago: float | None, ward: str | None = None, now: datetime
) -> dict[str, Any]:
    """A stored follower (seeded directly: the registry handlers are tested through Kafka elsewhere)."""
    o = oa(oa_key)
    last = now - timedelta(hours=active_hours_ago) if active_hours_ago is not None else None
    w = ward or o.ward
    s = Subscriber(
        oa_id=o.oa_id,
        user_id=user_id,
        following=True,
        membership_ms=0,
        oa_ward=o.ward,
        chosen_ward=ward,
        ward=w,
        last_interaction_at=last,
        followed_at=now - timedelta(days=30),
    )
    doc = subscriber_doc(s, now)
    doc["last_interaction_at"] = last
    return doc


def zalo_event(
    oa_key: str, user_id: str, name: str, *, ts: datetime, sync: bool = False, event_id: str | None = None
) -> ZaloEvent:
    direction = "management" if name in ("follow", "unfollow") else "inbound"
    eid = event_id or unique("e")
    return ZaloEvent(
        event_id=eid,
        occurred_at=ts,
        producer="test",
        correlation_id=eid,
        app_id=APP_ID,
        oa_id=oa(oa_key).oa_id,
        oa_key=oa_key,
        user_id=user_id,
        event_name=name,
        direction=direction,
        zalo_timestamp_ms=int(ts.timestamp() * 1000),
        sync=sync,
        text="xin chào" if direction == "inbound" else None,
        raw={},
    )


def intent(oa_key: str, user_id: str, action: str, ward: str | None = None, topics: list[str] | None = None):
    eid = unique("i")
    return CitizenIntent(
        event_id=eid,
        occurred_at=datetime.now(UTC),
        producer="intent",
        correlation_id=eid,
        oa_id=oa(oa_key).oa_id,
        user_id=user_id,
        intent="news",
        confidence=1.0,
        preference=NewsPreference(action=action, ward=ward, topics=topics or []),  # type: ignore[arg-type]
    )


def outcome_for(cmd: OutboundCommand, status: str = "sent", **kw: Any) -> DeliveryOutcome:
    eid = unique("o")
    return DeliveryOutcome(
        event_id=eid,
        occurred_at=datetime.now(UTC),
        producer="gateway-egress",
        correlation_id=cmd.correlation_id,
        command_id=cmd.command_id,
        oa_id=cmd.oa_id,
        user_id=cmd.user_id,
        action=cmd.action,
        lane=cmd.lane,
        status=status,  # type: ignore[arg-type]
        context=cmd.context,
        **kw,
    )


class TopicReader:
    """Reads topics from the beginning without a consumer group (every partition)."""

    def __init__(self, bootstrap: str, *physical: str) -> None:
        self.bootstrap = bootstrap
        self.physical = physical
        self.records: list[Any] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        tps: list[TopicPartition] = []
        for name in self.physical:
            parts = self._consumer.partitions_for_topic(name)
            if not parts:
                await self._consumer._client.force_metadata_update()  # a fresh test topic
                parts = self._consumer.partitions_for_topic(name) or {0}
            tps += [TopicPartition(name, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)

    async def poll(self) -> list[Any]:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=200)
        for recs in batch.values():
            self.records.extend(recs)
        return self.records

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass
class Commands:
    """The commands seen on the outbound topic."""

    items: list[OutboundCommand] = field(default_factory=list)

    def by_action(self, action: str) -> list[OutboundCommand]:
        return [c for c in self.items if c.action == action]

    def dms(self, campaign_id: str) -> list[OutboundCommand]:
        return [c for c in self.items if c.action == "send" and c.context.get("campaign_id") == campaign_id]

    def broadcasts(self, campaign_id: str) -> list[OutboundCommand]:
        return [c for c in self.by_action("broadcast_article") if c.context.get("campaign_id") == campaign_id]


@dataclass
class Harness:
    """A news app under a TestServer, plus a producer, an outbound reader and the database."""

    settings: NewsSettings
    server: TestServer
    http: aiohttp.ClientSession
    producer: EventProducer
    outbound: TopicReader
    mongo: AsyncMongoClient
    now: datetime

    @property
    def db(self):
        return self.mongo[self.settings.mongo_db]

    @property
    def app(self):
        return self.server.app

    @property
    def deps(self):
        return self.app[KIT].deps

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def call(self, method: str, path: str, who: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {who}"} if who else {}
        async with self.http.request(method, self.url(path), json=body, headers=headers) as r:
            return r.status, await r.json()

    async def seed(self, docs: list[dict[str, Any]]) -> None:
        await self.db["subscribers"].insert_many(docs)

    async def send_event(self, event: ZaloEvent) -> None:
        await self.producer.publish(ZALO_EVENTS, citizen_key(event.oa_id, event.user_id), event)

    async def send_intent(self, event: CitizenIntent) -> None:
        await self.producer.publish(CITIZEN_INTENTS, citizen_key(event.oa_id, event.user_id), event)

    async def send_outcome(self, event: DeliveryOutcome) -> None:
        await self.producer.publish(ZALO_DELIVERY, citizen_key(event.oa_id, event.user_id), event)

    async def commands(self) -> Commands:
        return Commands([OutboundCommand.model_validate_json(r.value) for r in await self.outbound.poll()])

    async def settled_commands(self, quiet: float = 1.0) -> Commands:
        """Everything on the topic once nothing new arrived for `quiet` seconds."""
        seen, calm_since = -1, time.monotonic()
        while True:
            n = len(await self.outbound.poll())
            if n != seen:
                seen, calm_since = n, time.monotonic()
            elif time.monotonic() - calm_since >= quiet:
                return await self.commands()

    async def wait_commands(self, pred, what: str, timeout: float = 45.0) -> Commands:
        async def check():
            cmds = await self.commands()
            return cmds if pred(cmds) else None

        return await poll_until(check, what, timeout)

    async def campaign(self, campaign_id: str) -> dict[str, Any]:
        return await self.db["campaigns"].find_one({"_id": campaign_id})

    async def fanout(self, campaign_id: str) -> dict[str, Any]:
        return await self.db["fanout"].find_one({"_id": campaign_id}) or {}

    async def wait_state(self, campaign_id: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
        async def check():
            c = await self.campaign(campaign_id)
            return c if c and c["state"] == state else None

        return await poll_until(check, f"campaign {state}", timeout)

    async def create_and_approve(self, body: dict[str, Any]) -> str:
        status, c = await self.call("POST", "/api/v1/campaigns", token("editor-1", "editor"), body)
        assert status == 201, c
        status, c2 = await self.call("POST", f"/api/v1/campaigns/{c['id']}/approve", token("sup-1", "supervisor"))
        assert status == 200, c2
        return c["id"]


def news_settings(infra: Any, topic_prefix: str, **overrides: Any) -> NewsSettings:
    values: dict[str, Any] = {
        "topic_prefix": topic_prefix,
        "kafka_bootstrap": infra.kafka_bootstrap,
        "mongo_uri": infra.mongo_uri,
        "mongo_db": unique("news"),
        "consumer_group": unique("g"),
        "environment": "dev",
        "jwt_hs256_secret": SECRET,
        "scheduler_interval_s": 0.2,
        "lease_ttl_s": 3.0,
        "max_campaign_sends_per_s": 200.0,
        "progress_interval_s": 1.0,
        "outcome_timeout_s": 60.0,
        "dm_retry_delay_s": 0.5,
        "retry_backoff_initial_s": 0.01,
        "retry_backoff_max_s": 0.1,
    }
    values.update(overrides)
    return NewsSettings(**values)


@asynccontextmanager
async def running_news(infra: Any, topic_prefix: str, **overrides: Any) -> AsyncIterator[Harness]:
    settings = news_settings(infra, topic_prefix, **overrides)
    server = TestServer(create_app(settings))
    await server.start_server()
    http = aiohttp.ClientSession()
    producer = EventProducer(infra.kafka_bootstrap, KitMetrics(CollectorRegistry()), topic_prefix)
    await producer.start()
    outbound = TopicReader(infra.kafka_bootstrap, topic_prefix + ZALO_OUTBOUND, topic_prefix + ZALO_OUTBOUND_BULK)
    await outbound.start()
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    harness = Harness(settings, server, http, producer, outbound, mongo, datetime.now(UTC))
    try:
        await poll_until(lambda: _ready(harness), "the news service to be ready", 60)
        yield harness
    finally:
        await outbound.stop()
        await producer.stop()
        await http.close()
        await server.close()
        await mongo.close()


async def _ready(h: Harness) -> bool:
    async with h.http.get(h.url("/readyz")) as r:
        return r.status == 200
