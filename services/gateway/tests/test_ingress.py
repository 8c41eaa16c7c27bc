"""The webhook ingress against the real broker: what Zalo and the consumers of zalo.events.v1 see."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from contracts.topics import ZALO_EVENTS
from services.gateway.ingress import create_app
from services.gateway.settings import IngressSettings
from services.gateway.tests.support import TANPHU, random_user_id, reading, signed_webhook, text_webhook

pytestmark = pytest.mark.integration


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
async def ingress(infra, topic_prefix, tmp_path) -> AsyncIterator[TestServer]:
    settings = IngressSettings(
        kafka_bootstrap=infra.kafka_bootstrap, topic_prefix=topic_prefix, spool_dir=tmp_path / "spool"
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    yield server
    await server.close()


async def post(server: TestServer, raw: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.make_url("/zalo/webhook"), data=raw, headers=headers) as r,
    ):
        return r.status, await r.json()


async def test_a_signed_event_is_published_once_with_its_key(infra, topic_prefix, ingress):
    user = random_user_id()
    body = text_webhook(user, "Cho hỏi thủ tục tạm trú", now_ms(), msg_id="a1b2c3")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_EVENTS) as events:
        assert await post(ingress, *signed_webhook(body)) == (200, {"status": "accepted"})
        sentinel = text_webhook(user, "sentinel", now_ms())
        assert (await post(ingress, *signed_webhook(sentinel)))[0] == 200
        values = await events.wait_for(2)
    (record,) = [r for r in events.records if json.loads(r.value)["text"] != "sentinel"]
    event = values[0]
    assert record.key == f"{TANPHU.oa_id}:{user}".encode()
    assert (event["event_id"], event["oa_key"], event["user_id"], event["direction"]) == (
        "zalo:a1b2c3",
        "tanphu",
        user,
        "inbound",
    )
    assert event["raw"] == body and event["producer"] == "gateway-ingress"
    assert len(values) == 2, "published once (the sentinel came after it on the same partition)"


async def test_rejected_webhooks_get_their_status_and_publish_nothing(infra, topic_prefix, ingress):
    user = random_user_id()
    good = text_webhook(user, "x", now_ms())
    raw, headers = signed_webhook(good)
    forged = {**headers, "X-ZEvent-Signature": "mac=" + "0" * 64}
    stale_raw, stale_headers = signed_webhook(text_webhook(user, "cũ", now_ms() - 4 * 3600 * 1000))
    huge = text_webhook(user, "x" * (130 * 1024), now_ms())
    huge_raw, huge_headers = signed_webhook(huge)
    wrong_secret = signed_webhook(good, secret="not-the-oa-secret")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_EVENTS) as events:
        assert (await post(ingress, raw, forged))[0] == 401
        assert (await post(ingress, *wrong_secret))[0] == 401
        assert (await post(ingress, raw, {"Content-Type": "application/json"}))[0] == 401  # no signature
        assert (await post(ingress, stale_raw, stale_headers)) == (
            401,
            {"error": "stale", "detail": "event timestamp is too old"},
        )
        assert (await post(ingress, huge_raw, huge_headers))[0] == 413
        assert (await post(ingress, b"{not json", headers))[0] == 400
        assert (await post(ingress, b'{"event_name":"user_send_text"}', headers))[0] == 400
        sentinel = text_webhook(user, "sentinel", now_ms())
        assert (await post(ingress, *signed_webhook(sentinel)))[0] == 200
        values = await events.wait_for(1)
    assert [v["text"] for v in values] == ["sentinel"]
    async with aiohttp.ClientSession() as http, http.get(ingress.make_url("/metrics")) as r:
        metrics = await r.text()
    for outcome, n in (("bad_signature", 3), ("stale", 1), ("too_large", 1), ("malformed", 2), ("accepted", 1)):
        assert f'zan_webhooks_total{{outcome="{outcome}"}} {n}.0' in metrics


async def test_a_duplicate_delivery_is_acknowledged_and_published_once(infra, topic_prefix, ingress):
    user = random_user_id()
    raw, headers = signed_webhook(text_webhook(user, "gửi lại", now_ms()))
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_EVENTS) as events:
        assert await post(ingress, raw, headers) == (200, {"status": "accepted"})
        assert await post(ingress, raw, headers | {"num_retry": "1"}) == (200, {"status": "duplicate"})
        sentinel = text_webhook(user, "sentinel", now_ms())
        assert (await post(ingress, *signed_webhook(sentinel)))[0] == 200
        values = await events.wait_for(2)
    assert [v["text"] for v in values] == ["gửi lại", "sentinel"]
