"""Test kit of the gateway: the Zalo simulator in-process, topic readers, builders of commands and webhooks."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts import Message, OutboundCommand, utcnow
from servicekit.ids import derived_id
from servicekit.registry import load_registry
from servicekit.testing import poll_until
from zalosim.app import create_app as create_sim_app
from zalosim.settings import SimSettings

REGISTRY = load_registry()
APP_ID = REGISTRY.app_id
TANPHU = REGISTRY.by_key("tanphu")
SONKY = REGISTRY.by_key("sonky")
OA_SECRET = "dev-oa-secret-key"


def random_user_id() -> str:
    return str(random.randrange(10**17, 10**18))


# -- the simulator ---------------------------------------------------------------------------


@dataclass
class Sim:
    """A running Zalo simulator and its control API."""

    server: TestServer
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.url + path, json=body) as resp:
            assert resp.status in (200, 201), await resp.text()
            return await resp.json()

    async def grant(self, oa_key: str) -> dict[str, Any]:
        return await self.control("POST", f"/_sim/oauth/{oa_key}/grant")

    async def interacted(self, oa_key: str, user_id: str, seconds_ago: float = 5.0) -> None:
        await self.control("POST", f"/_sim/users/{oa_key}/{user_id}/last_interaction", {"seconds_ago": seconds_ago})

    async def fault(self, **spec: Any) -> Any:
        return await self.control("POST", "/_sim/faults", spec)

    async def journal(self, name: str, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in {"limit": "100000", **filters}.items())
        return (await self.control("GET", f"/_sim/{name}?{query}"))["items"]

    async def messages(self, **filters: str) -> list[dict[str, Any]]:
        return await self.journal("messages", **filters)

    async def calls(self, **filters: str) -> list[dict[str, Any]]:
        return await self.journal("calls", **filters)

    async def refreshes(self) -> list[dict[str, Any]]:
        calls = await self.calls(path="/v4/oa/access_token")
        return [c for c in calls if (c.get("body") or {}).get("grant_type") == "refresh_token"]


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")


@asynccontextmanager
async def running_sim(**overrides: Any) -> AsyncIterator[Sim]:
    """The simulator on a free loopback port; its webhooks go to a receiver that answers 200."""
    receiver_app = web.Application()
    receiver_app.router.add_post("/zalo/webhook", _ok)
    receiver = TestServer(receiver_app)
    await receiver.start_server()
    settings = SimSettings(
        webhook_url=str(receiver.make_url("/zalo/webhook")), retry_time_scale=0.0002, seed=None, **overrides
    )
    server = TestServer(create_sim_app(settings))
    await server.start_server()
    http = aiohttp.ClientSession()
    try:
        yield Sim(server, http)
    finally:
        await http.close()
        await server.close()
        await receiver.close()


# -- topics ----------------------------------------------------------------------------------


@dataclass
class TopicReader:
    """Reads a physical topic from the beginning, keeping every record (all partitions)."""

    bootstrap: str
    topic: str
    records: list[Any] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> TopicReader:
        partitions = await topic_partitions(self.bootstrap, self.topic)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        return self

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self) -> list[Any]:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=100)
        for recs in batches.values():
            self.records.extend(recs)
        return self.records

    def values(self) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in self.records]

    async def wait_for(self, n: int, timeout: float = 30.0, what: str | None = None) -> list[dict[str, Any]]:
        async def enough() -> bool:
            await self.poll()
            return len(self.records) >= n

        await poll_until(enough, what or f"{n} records on {self.topic}", timeout=timeout)
        return self.values()


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The partitions of a topic, once the broker's metadata knows them (a new topic may briefly have none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:

        async def described() -> list[int]:
            (topic_md,) = await admin.describe_topics([topic])
            return sorted(p["partition"] for p in topic_md["partitions"])

        return await poll_until(described, f"partitions of {topic}", 15, 0.1)
    finally:
        await admin.close()


@asynccontextmanager
async def reading(bootstrap: str, topic: str) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(bootstrap, topic).start()
    try:
        yield reader
    finally:
        await reader.stop()


# -- builders --------------------------------------------------------------------------------


def command(
    user_id: str | None,
    *,
    oa_id: str = TANPHU.oa_id,
    text: str | None = None,
    message: Message | None = None,
    command_id: str | None = None,
    event_id: str | None = None,
    lane: str = "conversation",
    **fields: Any,
) -> OutboundCommand:
    cid = command_id or derived_id("test-command", random.random())
    if message is None and text is not None:
        message = Message(text=text)
    eid = event_id or derived_id("test-event", cid, random.random())
    return OutboundCommand(
        event_id=eid,
        occurred_at=utcnow(),
        producer="test",
        correlation_id=eid,
        command_id=cid,
        oa_id=oa_id,
        user_id=user_id,
        message=message,
        lane=lane,  # type: ignore[arg-type]
        **fields,
    )


def signed_webhook(body: dict[str, Any], secret: str = OA_SECRET, app_id: str = APP_ID) -> tuple[bytes, dict[str, str]]:
    """A webhook body and headers signed the way Zalo does (§2.1)."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    mac = hashlib.sha256(app_id.encode() + raw + str(body["timestamp"]).encode() + secret.encode()).hexdigest()
    return raw, {"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"}


def text_webhook(user_id: str, text: str, ts_ms: int, msg_id: str | None = None, oa_id: str = TANPHU.oa_id) -> dict:
    return {
        "app_id": APP_ID,
        "sender": {"id": user_id},
        "user_id_by_app": "552177279717587730",
        "recipient": {"id": oa_id},
        "event_name": "user_send_text",
        "message": {"text": text, "msg_id": msg_id or derived_id("msg", random.random())[:20]},
        "timestamp": str(ts_ms),
    }
