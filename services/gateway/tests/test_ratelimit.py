"""The shared rate limit: lanes on one MongoDB counter, and two egress instances under one limit."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts.topics import ZALO_DELIVERY
from servicekit.testing import unique
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
