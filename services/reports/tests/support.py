"""Builders and a harness for the reports service's integration tests (real Kafka and FerretDB)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts import (
    DeliveryOutcome,
    HandoffEvent,
    OutboundCommand,
    ReportAttachment,
    ReportSubmitted,
    StatusRequested,
    ZaloEvent,
    citizen_key,
    utcnow,
)
from contracts.topics import (
    CONVERSATION_HANDOFFS,
    REPORTS_STATUS_REQUESTS,
    REPORTS_SUBMITTED,
    ZALO_DELIVERY,
    ZALO_EVENTS,
)
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.testing import poll_until, unique
from servicekit.tests.fixtures import outcome_of as outcome_of  # re-exported for the tests here
from services.reports.app import create_app
from services.reports.auth import mint
from services.reports.settings import DEV_JWT_SECRET, ReportsSettings

OA = {
    "tanphu": "4318000000000000001",
    "hinhsu": "4318000000000000002",
    "csgt": "4318000000000000004",
    "pccc": "4318000000000000005",
    "sonky": "4318000000000000010",
    "tanquy": "4318000000000000011",
}
APP_ID = "4318000000000000000"


def new_user() -> str:
    """A Zalo-sized OA-scoped user id (18 digits), fresh per call."""
    return "2" + str(uuid.uuid4().int)[:17]


def submission(
    oa_key: str = "tanphu",
    user_id: str | None = None,
    *,
    description: str = "Tối qua nhà tôi bị trộm mất xe máy Honda Wave màu đỏ.",
    kind: str = "crime",
    category: str = "theft",
    anonymous: bool = False,
    urgent: bool = False,
    source: str = "form",
    ward: str | None = None,
    attachments: list[str] = (),  # type: ignore[assignment]
    submission_id: str | None = None,
    occurred_at: datetime | None = None,
) -> ReportSubmitted:
    sid = submission_id or unique("sub")
    return ReportSubmitted(
        event_id=unique("ev"),
        occurred_at=occurred_at or utcnow(),
        producer="intent",
        correlation_id=unique("corr"),
        submission_id=sid,
        oa_id=OA[oa_key],
        user_id=user_id or new_user(),
        kind=kind,  # type: ignore[arg-type]
        category=category,
        description=description,
        occurred_at_text="khoảng 21 giờ tối qua",
        place_text="Hẻm 12 Lũy Bán Bích",
        ward=ward,
        attachments=[ReportAttachment(url=u) for u in attachments],
        anonymous=anonymous,
        urgent=urgent,
        source=source,  # type: ignore[arg-type]
    )


def status_request(oa_id: str, user_id: str, code: str | None) -> StatusRequested:
    return StatusRequested(
        event_id=unique("ev"),
        occurred_at=utcnow(),
        producer="intent",
        correlation_id=unique("corr"),
        oa_id=oa_id,
        user_id=user_id,
        case_code=code,
    )


def inbound(
    oa_key: str, user_id: str, *, app_user: str | None = None, at: datetime | None = None, text: str = "alo"
) -> ZaloEvent:
    eid = unique("zalo")
    raw: dict[str, Any] = {"event_name": "user_send_text"}
    if app_user:
        raw["user_id_by_app"] = app_user
    return ZaloEvent(
        event_id=eid,
        occurred_at=at or utcnow(),
        producer="gateway-ingress",
        correlation_id=eid,
        app_id=APP_ID,
        oa_id=OA[oa_key],
        oa_key=oa_key,
        user_id=user_id,
        event_name="user_send_text",
        direction="inbound",
        zalo_timestamp_ms=int((at or utcnow()).timestamp() * 1000),
        message_id=eid,
        text=text,
        raw=raw,
    )


def handoff(oa_key: str, user_id: str, change: str = "requested") -> HandoffEvent:
    return HandoffEvent(
        event_id=unique("ho"),
        occurred_at=utcnow(),
        producer="intent",
        correlation_id=unique("corr"),
        oa_id=OA[oa_key],
        user_id=user_id,
        change=change,  # type: ignore[arg-type]
        by="citizen",
        reason="hỏi cán bộ",
    )


class TopicReader:
    """Every record of one topic from the beginning, decoded into `model`, collected in the background."""

    def __init__(self, bootstrap: str, physical_topic: str, model: type[BaseModel]) -> None:
        self.bootstrap, self.topic, self.model = bootstrap, physical_topic, model
        self.records: list[Any] = []
        self.keys: list[str] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for recs in batches.values():
                for r in recs:
                    self.records.append(self.model.model_validate_json(r.value))
                    self.keys.append((r.key or b"").decode())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def wait_for(self, pred: Callable[[Any], bool], what: str, count: int = 1, timeout: float = 30.0) -> list:
        async def found():
            hits = [r for r in self.records if pred(r)]
            return hits if len(hits) >= count else None

        return await poll_until(found, what, timeout)

    def matching(self, pred: Callable[[Any], bool]) -> list:
        return [r for r in self.records if pred(r)]


@dataclass
class Harness:
    settings: ReportsSettings
    server: TestServer
    http: aiohttp.ClientSession
    producer: EventProducer
    mongo: AsyncMongoClient
    db: AsyncDatabase
    outbound: TopicReader
    lifecycle: TopicReader
    handoffs: TopicReader
    prometheus: CollectorRegistry
    tokens: dict[tuple[str, str | None, str], str] = field(default_factory=dict)

    @property
    def app(self):
        return self.server.app

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def token(self, role: str = "supervisor", unit: str | None = None, sub: str = "officer-1") -> str:
        key = (role, unit, sub)
        if key not in self.tokens:
            self.tokens[key] = mint(
                DEV_JWT_SECRET.get_secret_value(),
                sub=sub,
                role=role,
                unit=unit,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
            )
        return self.tokens[key]

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url(path), json=body, params=params, headers=hdrs) as r:
            body: Any = await r.read()
            if r.content_type == "application/json":
                body = json.loads(body)
            return r.status, body, r.headers.copy()

    async def publish(self, topic: str, event: BaseModel, key: str) -> None:
        await self.producer.publish(topic, key, event)

    async def submit(self, event: ReportSubmitted) -> None:
        await self.publish(REPORTS_SUBMITTED, event, citizen_key(event.oa_id, event.user_id))

    async def ask_status(self, event: StatusRequested) -> None:
        await self.publish(REPORTS_STATUS_REQUESTS, event, citizen_key(event.oa_id, event.user_id))

    async def zalo(self, event: ZaloEvent) -> None:
        await self.publish(ZALO_EVENTS, event, citizen_key(event.oa_id, event.user_id))

    async def deliver(self, outcome: DeliveryOutcome) -> None:
        await self.publish(ZALO_DELIVERY, outcome, citizen_key(outcome.oa_id, outcome.user_id))

    async def hand_off(self, event: HandoffEvent) -> None:
        await self.publish(CONVERSATION_HANDOFFS, event, citizen_key(event.oa_id, event.user_id))

    async def case_of(self, sub: ReportSubmitted, timeout: float = 30.0) -> dict:
        """The case of a submission once it exists (read from the database)."""
        from services.reports.handlers import case_id_for

        case_id = case_id_for(sub.submission_id)
        return await poll_until(lambda: self.db.cases.find_one({"_id": case_id}), "the case to be created", timeout)

    async def acks_for(self, user_id: str, count: int = 1) -> list[OutboundCommand]:
        return await self.outbound.wait_for(
            lambda c: c.user_id == user_id and c.lane == "notice", f"{count} notice(s) to the citizen", count
        )

    def metric(self, name: str, **labels: str) -> float:
        return self.prometheus.get_sample_value(name, labels) or 0.0


def settings_for(infra: Any, topic_prefix: str, **overrides: Any) -> ReportsSettings:
    values: dict[str, Any] = {
        "environment": "dev",
        "kafka_bootstrap": infra.kafka_bootstrap,
        "mongo_uri": infra.mongo_uri,
        "mongo_db": unique("db"),
        "consumer_group": unique("g"),
        "topic_prefix": topic_prefix,
        "media_allowed_hosts": ["127.0.0.1"],
        "sweep_interval_s": 0.3,
        "outbox_grace_s": 0.5,
        "attachment_poll_s": 0.2,
        "attachment_backoff_initial_s": 0.2,
        "attachment_backoff_max_s": 0.4,
        "attachment_timeout_s": 5.0,
        "metrics_refresh_s": 0.3,
        "retry_backoff_initial_s": 0.05,
        "retry_backoff_max_s": 0.2,
        "max_attempts": 3,
    }
    values.update(overrides)
    return ReportsSettings(**values)


@contextlib.asynccontextmanager
async def running(settings: ReportsSettings, **app_kwargs: Any):
    """The service under a TestServer plus readers of what it publishes."""
    from contracts import CaseLifecycle
    from contracts.topics import REPORTS_LIFECYCLE, ZALO_OUTBOUND

    prometheus = CollectorRegistry()
    app = create_app(settings, prometheus=prometheus, **app_kwargs)
    server = TestServer(app)
    outbound = TopicReader(settings.kafka_bootstrap, settings.topic(ZALO_OUTBOUND), OutboundCommand)
    lifecycle = TopicReader(settings.kafka_bootstrap, settings.topic(REPORTS_LIFECYCLE), CaseLifecycle)
    handoffs = TopicReader(settings.kafka_bootstrap, settings.topic(CONVERSATION_HANDOFFS), HandoffEvent)
    producer = EventProducer(settings.kafka_bootstrap, KitMetrics(CollectorRegistry()), settings.topic_prefix)
    mongo = AsyncMongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    await producer.start()
    for reader in (outbound, lifecycle, handoffs):
        await reader.start()
    await server.start_server()
    http = aiohttp.ClientSession()
    h = Harness(
        settings, server, http, producer, mongo, mongo[settings.database], outbound, lifecycle, handoffs, prometheus
    )
    try:

        async def ready():
            async with http.get(h.url("/readyz")) as r:
                return r.status == 200

        await poll_until(ready, "the reports service to be ready", 60)
        yield h
    finally:
        await http.close()
        await server.close()
        for reader in (outbound, lifecycle, handoffs):
            await reader.stop()
        await producer.stop()
        await mongo.close()


def days_ago(n: float) -> datetime:
    return utcnow() - timedelta(days=n)
