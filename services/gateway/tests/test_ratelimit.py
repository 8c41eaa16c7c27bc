"""The shared rate limit: lanes on one MongoDB counter, and two egress instances under one limit."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts.topics import ZALO_DELIVERY
from servicekit.testing import poll_until, unique
from services.gateway.metrics import EgressMetrics
from services.gateway.ratelimit import RateLimiter
from services.gateway.store import CLAIMS, RateSlots
from services.gateway.tests.conftest import egress_settings, publish
from services.gateway.tests.support import command, random_user_id, reading, running_sim

pytestmark = pytest.mark.integration


class WouldWait(Exception):
    pass


async def refuse_to_wait(_: float) -> None:
    raise WouldWait


@pytest.fixture
async def db(infra):
    client = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    yield client[unique("db")]
    await client.close()


def limiter(db, limit: int, **overrides) -> RateLimiter:
    values = {
        "limit": limit,
        "window_s": 60.0,
        "campaign_share": 0.5,
        "conversation_reserve": 0.1,
        "guard_s": 0.0,
        "batch_max": 20,
        "metrics": EgressMetrics(CollectorRegistry()),
        "wall": lambda: 6_000_030.0,  # mid-window, frozen
        "sleep": refuse_to_wait,
    }
    return RateLimiter(RateSlots(db), **(values | overrides))


async def take(replicas: list[RateLimiter], lane: str) -> int:
    """Slots a lane gets, alternating between replicas, until one would have to wait."""
    got = 0
    while True:
        try:
            await replicas[got % len(replicas)].acquire(lane)
        except WouldWait:
            return got
        got += 1


async def test_lanes_share_one_window_across_replicas(db):
    a, b = limiter(db, 10), limiter(db, 10)
    assert await take([a, b], "campaign") == 5, "campaign_share 0.5 of 10"
    assert await take([a, b], "notice") == 4, "notice stops at 9: the last slot is kept for replies"
    assert await take([a, b], "conversation") == 1
    assert await take([b, a], "campaign") == 0
    slots = RateSlots(db)
    assert (await slots.used(a.key(100_000), cap=20), await slots.used(a.key(100_000), "c", cap=20)) == (10, 5)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_campaigns_fill_what_replies_leave_and_replies_keep_their_room(db):
    clock = Clock(6_000_000.0 + 5)  # window 100,000 of 60 s, 5 s in
    a = limiter(db, 100, campaign_share=1.0, conversation_reserve=0.03, wall=clock)
    for _ in range(20):  # last window: 20 replies
        await a.acquire("conversation")
    clock.now = 6_000_060.0 + 15  # next window, a quarter in
    got = await take([a], "campaign")
    # 20 replies/min expected: 15 in the 45 s left; 3 kept at all times; campaigns get the rest.
    assert got == 100 - 3 - 15
    assert await take([a], "conversation") == 18, "the replies still expected find their slots"


async def test_the_campaign_room_grows_as_the_window_runs_out(db):
    clock = Clock(6_000_000.0 + 5)
    a = limiter(db, 100, campaign_share=1.0, conversation_reserve=0.03, wall=clock)
    for _ in range(20):
        await a.acquire("conversation")
    clock.now = 6_000_060.0 + 15
    first = await take([a], "campaign")
    clock.now = 6_000_060.0 + 57  # 3 s left: one more reply expected at most
    assert first + await take([a], "campaign") == 100 - 3 - 1


async def test_without_replies_campaigns_get_all_but_the_margin(db):
    a = limiter(db, 100, campaign_share=1.0, conversation_reserve=0.03)
    assert await take([a], "campaign") == 97


async def test_slots_are_reserved_in_batches_of_one_percent(db):
    a, b = limiter(db, 1000), limiter(db, 1000)
    assert a.batch == 10
    for _ in range(3):
        await a.acquire("conversation")
    await b.acquire("conversation")
    assert await RateSlots(db).used(a.key(100_000), cap=50) == 20, "each replica took one batch of 10; a used its own"


async def test_minus_32_closes_the_window_for_everyone(db):
    a, b = limiter(db, 10), limiter(db, 10)
    await a.acquire("conversation")
    await a.saturate()
    with pytest.raises(WouldWait):
        await b.acquire("conversation")


async def test_two_egress_instances_stay_under_the_configured_limit(infra, topic_prefix, producer, make_egress):
    limit, window_s = 12, 3.0
    # The simulator enforces exactly the limit we configure: any excess would come back as -32.
    async with running_sim(rate_limit=limit, rate_window_seconds=window_s) as sim:
        users = [random_user_id() for _ in range(8)]
        for user in users:
            await sim.interacted("tanphu", user)
        shared = {"mongo_db": unique("db"), "consumer_group": unique("g")}
        settings = egress_settings(
            infra,
            topic_prefix,
            sim,
            {"tanphu": (await sim.grant("tanphu"))["refresh_token"]},
            rate_limit_per_window=limit,
            rate_window_s=window_s,
            rate_boundary_guard_s=0.3,  # a call lands in its window even if this busy test loop stalls
            **shared,
        )
        commands = [command(users[i % 8], text=f"tin {i}") for i in range(45)]
        async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
            await make_egress(settings)
            await make_egress(settings)
            await publish(producer, *commands)
            outcomes = await deliveries.wait_for(45, timeout=60)
        calls = [c for c in await sim.calls() if c["path"].startswith("/v")]
        client = AsyncMongoClient(infra.mongo_uri)
        owners = {d["owner"] async for d in client[settings.database][CLAIMS].find({})}
        await client.close()
    assert {(o["status"], o["attempts"]) for o in outcomes} == {("sent", 1)}
    assert not [c for c in calls if c.get("error") == -32], "Zalo never had to refuse a call"
    per_window = Counter(int(c["at_ms"] // (window_s * 1000)) for c in calls if c["path"] != "/v4/oa/access_token")
    assert max(per_window.values()) <= limit
    full = [n for w, n in sorted(per_window.items())[1:-1]]
    assert len(per_window) >= 4 and full and min(full) >= limit - 1, (
        f"the limit is used, not just respected: {per_window}"
    )
    assert len(owners) == 2, "both instances sent"


async def test_a_campaign_waiting_for_its_share_never_delays_a_reply(infra, topic_prefix, producer, make_egress):
    window_s = 30.0
    async with running_sim() as sim:
        users = [random_user_id() for _ in range(7)]
        for user in users:
            await sim.interacted("tanphu", user)
        settings = egress_settings(
            infra,
            topic_prefix,
            sim,
            {"tanphu": (await sim.grant("tanphu"))["refresh_token"]},
            rate_limit_per_window=100,
            rate_window_s=window_s,
            campaign_share=0.03,  # 3 campaign messages per window
        )
        left = window_s - time.time() % window_s
        if left < 20:  # the test needs 20 s of one window
            await asyncio.sleep(left + 0.1)
        async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
            await make_egress(settings)
            await publish(producer, *[command(u, text="bản tin", lane="campaign") for u in users[:6]])
            await deliveries.wait_for(3, timeout=15)
            await publish(producer, command(users[6], text="trả lời"))
            started = time.monotonic()

            async def reply_sent():
                await deliveries.poll()
                return [o for o in deliveries.values() if o["lane"] == "conversation"] or None

            await poll_until(reply_sent, "the reply", 10)
            waited = time.monotonic() - started
            in_window = len(await sim.messages()) - 1
    assert in_window == 3, "the campaign is held at its share of the window"
    assert waited < 5, f"the reply waited {waited:.1f} s behind the campaign"
