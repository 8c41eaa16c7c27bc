"""Test kit: a webhook receiver, a simulator handle, and a polling helper (no bare sleeps)."""

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

T = TypeVar("T")


async def poll_until(probe: Callable[[], Awaitable[T]], what: str, timeout: float = 5.0, interval: float = 0.01) -> T:
    """Await ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def random_user_id() -> str:
    return str(random.randrange(10**18, 2**63 - 1))


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A stand-in gateway: records every POST; answers the queued statuses first, then 200."""

    hits: list[Hit] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/zalo/webhook"))

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append(Hit(headers=dict(request.headers), body=body))
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")

    def events(self, event_name: str | None = None) -> list[dict[str, Any]]:
        return [hit.event for hit in self.hits if event_name is None or hit.event["event_name"] == event_name]


async def start_receiver() -> Receiver:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/zalo/webhook", receiver.handle)
    receiver.server = TestServer(app)
    await receiver.server.start_server()
    return receiver


@dataclass
class Sim:
    """A running simulator plus the receiver its webhooks go to."""

    client: TestClient
    receiver: Receiver
    tokens: dict[str, str] = field(default_factory=dict)

    async def control(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = await self.client.request(method, path, json=body)
        assert response.status == expect, await response.text()
        return await response.json()

    async def grant(self, oa_key: str) -> dict[str, Any]:
        pair = await self.control("POST", f"/_sim/oauth/{oa_key}/grant")
        self.tokens[oa_key] = pair["access_token"]
        return pair

    async def citizen(self, oa_key: str, user_id: str, action: str, **fields: Any) -> dict[str, Any]:
        return await self.control("POST", f"/_sim/users/{oa_key}/{user_id}/{action}", fields)

    async def post(self, path: str, body: Any, oa_key: str = "tanphu", token: str | None = None) -> dict[str, Any]:
        response = await self.client.post(path, json=body, headers={"access_token": token or self.tokens[oa_key]})
        assert response.status == 200, await response.text()
        return await response.json()

    async def get(self, path: str, data: Any = None, oa_key: str = "tanphu") -> dict[str, Any]:
        params = {"data": json.dumps(data)} if data is not None else {}
        response = await self.client.get(path, params=params, headers={"access_token": self.tokens[oa_key]})
        assert response.status == 200, await response.text()
        return await response.json()

    async def send_text(self, user_id: str, text: str, oa_key: str = "tanphu") -> dict[str, Any]:
        return await self.post(
            "/v3.0/oa/message/cs", {"recipient": {"user_id": user_id}, "message": {"text": text}}, oa_key
        )


SimFactory = Callable[..., Awaitable[Sim]]
