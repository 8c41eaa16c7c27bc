"""The egress against the real broker, FerretDB and the Zalo simulator: what a citizen and an operator see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from contracts import Article, ArticleBlock, Button, Message
from contracts.topics import ZALO_DELIVERY
from servicekit.testing import poll_until, unique
from services.gateway.store import CLAIMS, OUTCOMES
from services.gateway.tests.conftest import egress_settings, publish
from services.gateway.tests.support import TANPHU, command, random_user_id, reading

pytestmark = pytest.mark.integration


async def refresh_token(sim, oa_key: str = "tanphu") -> dict[str, str]:
    return {oa_key: (await sim.grant(oa_key))["refresh_token"]}


def by_command(outcomes: list[dict]) -> dict[str, dict]:
    return {o["command_id"]: o for o in outcomes}


async def test_each_message_type_is_sent_and_its_outcome_published(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    commands = [
        command(user, text="Xin chào", context={"case_id": "TP-1"}),
        command(user, message=Message(text="Chọn:", buttons=[Button(title="Thủ tục", kind="query", payload="#tt")])),
        command(user, message=Message(image_url="https://cdn.example/a.png", text="Ảnh")),
        command(user, message=Message(request_user_info=True)),
    ]
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, *commands)
        outcomes = by_command(await deliveries.wait_for(4))
    for cmd in commands:
        o = outcomes[cmd.command_id]
        assert (o["status"], o["reason"], o["attempts"], o["quota_type"]) == ("sent", "ok", 1, "reply")
        assert o["zalo_message_id"] and o["oa_id"] == TANPHU.oa_id and o["user_id"] == user
    assert outcomes[commands[0].command_id]["context"] == {"case_id": "TP-1"}
    messages = await sim.messages(user_id=user)
    assert [m["type"] for m in messages] == ["text", "buttons", "image", "request_user_info"], "order per citizen kept"
    assert [m["message_id"] for m in messages] == [outcomes[c.command_id]["zalo_message_id"] for c in commands]
    assert messages[3]["elements"][0]["title"] == TANPHU.display_name


async def test_token_expiring_mid_load_is_refreshed_once_and_no_message_is_lost(
    infra, topic_prefix, sim, producer, make_egress
):
    users = [random_user_id() for _ in range(10)]
    for user in users:
        await sim.interacted("tanphu", user)
    shared = {"mongo_db": unique("db"), "consumer_group": unique("g")}
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim), **shared)
    commands = [command(users[i % 10], text=f"tin {i}") for i in range(100)]
    await sim.fault(kind="latency", seconds=0.02, path="/v3.0/oa/message/cs")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await make_egress(settings)  # a second replica: one refresh across replicas, not one each
        await publish(producer, *commands)
        await poll_until(lambda: _count_at_least(sim, 20), "the load to be under way", 60)
        expired = await sim.fault(kind="expire_token", oa_key="tanphu")
        assert expired["expired"] >= 1
        outcomes = by_command(await deliveries.wait_for(100, timeout=90))
    assert {o["status"] for o in outcomes.values()} == {"sent"}
    sent_texts = [m["text"] for m in await sim.messages(oa_key="tanphu")]
    assert sorted(sent_texts) == sorted(c.message.text for c in commands), "each message exactly once"
    assert len(await sim.refreshes()) == 2, "one refresh at start (bootstrap) and one after the expiry"
    retried = [o for o in outcomes.values() if o["attempts"] > 1]
    assert retried, "some sends met the expired token and were sent again"


async def _count_at_least(sim, n: int) -> bool:
    return len(await sim.messages(oa_key="tanphu")) >= n


async def test_a_5xx_burst_is_retried_until_sent(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    await sim.fault(kind="http_error", status=503, count=3, path="/v3.0/oa/message/cs")
    cmd = command(user, text="sau sự cố")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, cmd)
        (outcome,) = await deliveries.wait_for(1)
    assert (outcome["status"], outcome["attempts"]) == ("sent", 4)
    calls = await sim.calls(path="/v3.0/oa/message/cs")
    assert [c["http_status"] for c in calls] == [503, 503, 503, 200]
    assert len(await sim.messages(user_id=user)) == 1


async def test_rate_limited_answer_waits_and_is_retried(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim), rate_window_s=1.0)
    await sim.fault(kind="zalo_error", code=-32, count=1, path="/v3.0/oa/message/cs")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, command(user, text="x"))
        (outcome,) = await deliveries.wait_for(1)
    assert (outcome["status"], outcome["attempts"]) == ("sent", 2)
    first, second = await sim.calls(path="/v3.0/oa/message/cs")
    assert first["error"] == -32 and second["error"] == 0
    assert second["at_ms"] // 1000 > first["at_ms"] // 1000, "the retry waited for the next window"


async def test_permanent_errors_fail_with_the_zalo_code_without_retry(infra, topic_prefix, sim, producer, make_egress):
    silent, active = random_user_id(), random_user_id()
    await sim.interacted("tanphu", active)
    await sim.interacted("tanphu", silent, seconds_ago=8 * 86400)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    window = command(silent, text="quá 7 ngày", context={"campaign_id": "c1"})
    invalid = command(active, text="tham số sai")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, window)
        (first,) = await deliveries.wait_for(1)
        await sim.fault(kind="zalo_error", code=-201, count=1, path="/v3.0/oa/message/cs")
        await publish(producer, invalid)
        outcomes = by_command(await deliveries.wait_for(2))
    assert first["command_id"] == window.command_id
    o = outcomes[window.command_id]
    assert (o["status"], o["zalo_error"], o["reason"], o["retryable"], o["attempts"]) == (
        "failed",
        -230,
        "window_closed",
        False,
        1,
    )
    assert o["context"] == {"campaign_id": "c1"}
    o = outcomes[invalid.command_id]
    assert (o["status"], o["zalo_error"], o["reason"], o["retryable"], o["attempts"]) == (
        "failed",
        -201,
        "invalid",
        False,
        1,
    )
    assert await sim.messages(user_id=active) == []


async def test_a_redelivered_command_is_not_sent_twice(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    cmd = command(user, text="chỉ một lần")
    # The same command_id under another event_id: a redelivery the kit's event_id dedup cannot catch
    # (e.g. the process died after recording the outcome and before the kit marked the record).
    again = cmd.model_copy(update={"event_id": unique("redelivery")})
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, cmd)
        await deliveries.wait_for(1)
        await publish(producer, again)
        first, second = await deliveries.wait_for(2)
    assert first == second, "the recorded outcome is published again, byte for byte"
    assert len(await sim.messages(user_id=user)) == 1


async def test_an_interrupted_send_is_taken_over_and_sent_once(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    cmd = command(user, text="sau khi tiến trình chết")
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    try:
        # A replica claimed the command and died before Zalo was called (or before it recorded the answer).
        await mongo[settings.database][CLAIMS].insert_one(
            {
                "_id": f"{cmd.command_id}:0",
                "command_id": cmd.command_id,
                "gen": 0,
                "owner": "dead-replica",
                "lease_until": datetime.now(UTC) - timedelta(seconds=1),
            }
        )
        async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
            server = await make_egress(settings)
            await publish(producer, cmd)
            (outcome,) = await deliveries.wait_for(1)
        record = await mongo[settings.database][OUTCOMES].find_one({"_id": cmd.command_id})
        claims = [c async for c in mongo[settings.database][CLAIMS].find({"command_id": cmd.command_id})]
    finally:
        await mongo.close()
    assert outcome["status"] == "sent" and record["status"] == "sent"
    assert sorted(c["gen"] for c in claims) == [0, 1]
    assert len(await sim.messages(user_id=user)) == 1
    metrics = await _get(server, "/metrics")
    assert 'zan_egress_replays_total{kind="taken_over"} 1.0' in metrics


async def _get(server, path: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(server.make_url(path)) as resp:
        return await resp.text()


async def test_a_command_past_not_after_is_skipped_without_a_call(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    late = command(user, text="muộn", not_after=(datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, late)
        (outcome,) = await deliveries.wait_for(1)
    assert (outcome["status"], outcome["reason"], outcome["attempts"]) == ("skipped", "expired", 0)
    assert await sim.messages(user_id=user) == []


ARTICLE = Article(
    title="Cảnh báo lừa đảo qua mạng",
    description="Thủ đoạn giả danh công an",
    author="Công an quận Tân Phú",
    cover_url="https://cdn.example/cover.jpg",
    body=[ArticleBlock(type="text", content="Người dân cảnh giác.")],
)


async def test_article_broadcast_creates_verifies_then_broadcasts(infra, topic_prefix, sim, producer, make_egress):
    await sim.control("POST", "/_sim/followers/seed", {"oa_key": "tanphu", "count": 25})
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    cmd = command(None, action="broadcast_article", article=ARTICLE, lane="notice")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, cmd)
        (outcome,) = await deliveries.wait_for(1)
    (article,) = (await sim.control("GET", "/_sim/articles?oa_key=tanphu"))["items"]
    (broadcast,) = await sim.journal("broadcasts", oa_key="tanphu")
    assert outcome["status"] == "sent" and outcome["article_id"] == article["article_id"]
    assert outcome["zalo_message_id"] == broadcast["message_id"] and broadcast["recipients"] == 25
    assert article["verify_polls"] == 3 and outcome["attempts"] == 1 + 3 + 1, "create, 2 × -214 + id, broadcast"
    assert broadcast["target"] == {"gender": "0"}


async def test_an_interrupted_broadcast_is_not_repeated(infra, topic_prefix, sim, producer, make_egress):
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    cmd = command(None, action="broadcast_article", article=ARTICLE, lane="notice")
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    try:
        await mongo[settings.database][CLAIMS].insert_one(
            {
                "_id": f"{cmd.command_id}:0",
                "command_id": cmd.command_id,
                "gen": 0,
                "owner": "dead-replica",
                "lease_until": datetime.now(UTC) - timedelta(seconds=1),
                "stage": "broadcast",
                "article_id": "123",
            }
        )
        async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
            await make_egress(settings)
            await publish(producer, cmd)
            (outcome,) = await deliveries.wait_for(1)
    finally:
        await mongo.close()
    assert (outcome["status"], outcome["reason"], outcome["retryable"], outcome["article_id"]) == (
        "failed",
        "other",
        False,
        "123",
    )
    assert await sim.journal("broadcasts") == []


@pytest.mark.parametrize(
    ("failing_path", "retryable", "broadcasts"),
    [
        ("/v2.0/article/create", True, 0),  # Zalo down before the broadcast call: certainly not sent
        ("/v2.0/oa/message", False, 0),  # a 5xx on the broadcast call itself: it may have gone out
    ],
)
async def test_a_failed_broadcast_is_retryable_only_if_it_certainly_did_not_happen(
    infra, topic_prefix, sim, producer, make_egress, failing_path, retryable, broadcasts
):
    await sim.control("POST", "/_sim/followers/seed", {"oa_key": "tanphu", "count": 5})
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim), send_max_attempts=2)
    await sim.fault(kind="http_error", status=503, path=failing_path, count=50)  # Zalo down for this call
    cmd = command(None, action="broadcast_article", article=ARTICLE, lane="notice")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, cmd)
        (outcome,) = await deliveries.wait_for(1)
    assert (outcome["status"], outcome["reason"], outcome["retryable"]) == ("failed", "transient", retryable)
    assert len(await sim.journal("broadcasts")) == broadcasts


async def test_tag_and_untag_a_follower(infra, topic_prefix, sim, producer, make_egress):
    user = random_user_id()
    await sim.control("POST", f"/_sim/users/tanphu/{user}/follow", {})
    settings = egress_settings(infra, topic_prefix, sim, await refresh_token(sim))
    tag = command(user, action="tag_user", tag_name="Phường Sơn Kỳ", lane="notice")
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, tag)
        await deliveries.wait_for(1)
        (tagged,) = (await sim.control("GET", "/_sim/tags?oa_key=tanphu"))["items"]
        await publish(producer, command(user, action="untag_user", tag_name="Phường Sơn Kỳ", lane="notice"))
        outcomes = await deliveries.wait_for(2)
    assert [o["status"] for o in outcomes] == ["sent", "sent"]
    assert tagged["user_ids"] == [user]
    (after,) = (await sim.control("GET", "/_sim/tags?oa_key=tanphu"))["items"]
    assert after["user_ids"] == []


async def test_an_oa_without_a_token_fails_with_reason_token(infra, topic_prefix, sim, producer, make_egress):
    settings = egress_settings(infra, topic_prefix, sim, {})
    user = random_user_id()
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
        await make_egress(settings)
        await publish(producer, command(user, text="x"))
        (outcome,) = await deliveries.wait_for(1)
    assert (outcome["status"], outcome["reason"], outcome["retryable"], outcome["attempts"]) == (
        "failed",
        "token",
        True,
        0,
    )
