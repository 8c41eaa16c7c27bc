"""The follower sync against the simulator and the real broker: one follow event per follower."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from contracts.topics import ZALO_EVENTS
from devstack.paths import REPO_ROOT
from servicekit.testing import unique
from services.gateway.sync import sync_followers
from services.gateway.tests.conftest import egress_settings
from services.gateway.tests.support import SONKY, random_user_id, reading

pytestmark = pytest.mark.integration


async def seed(sim, count: int) -> list[str]:
    seeded = await sim.control("POST", "/_sim/followers/seed", {"oa_key": "sonky", "count": count, "active_share": 0.3})
    return seeded["sample_user_ids"]


async def test_sync_publishes_one_follow_event_per_follower(infra, topic_prefix, sim):
    sample = await seed(sim, 130)
    chatter = random_user_id()
    await sim.control("POST", f"/_sim/users/sonky/{chatter}/text", {"text": "hỏi chút"})  # not a follower
    settings = egress_settings(infra, topic_prefix, sim, {"sonky": (await sim.grant("sonky"))["refresh_token"]})
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_EVENTS) as events:
        (report,) = await sync_followers(settings, ["sonky"])
        first = await events.wait_for(130)
        (again,) = await sync_followers(settings, ["sonky"])
        both = await events.wait_for(260)
    assert (report.followers_reported, report.published, report.pages, report.error) == (130, 130, 3, None)
    assert again.published == 130
    users = [e["user_id"] for e in first]
    assert len(set(users)) == 130 and set(sample) <= set(users) and chatter not in users
    e = first[0]
    assert (e["event_name"], e["direction"], e["sync"], e["oa_id"], e["oa_key"], e["producer"]) == (
        "follow",
        "management",
        True,
        SONKY.oa_id,
        "sonky",
        "gateway-sync",
    )
    assert {x["event_id"] for x in both[130:]} == {x["event_id"] for x in first}, "a rerun repeats the same ids"


async def test_sync_segments_by_interaction_date_beyond_the_offset_cap(infra, topic_prefix, sim):
    await seed(sim, 130)
    settings = egress_settings(infra, topic_prefix, sim, {"sonky": (await sim.grant("sonky"))["refresh_token"]})
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_EVENTS) as events:
        (report,) = await sync_followers(settings, ["sonky"], offset_cap=60)  # 100 reachable per listing
        published = await events.wait_for(130)
    assert report.segments > 1 and report.capped == 0 and report.published == 130
    assert len({e["user_id"] for e in published}) == 130
    periods = [c["query"] for c in await sim.calls(path="/v3.0/oa/user/getlist")]
    assert any("last_interaction_period" in p.get("data", "") for p in periods)


async def test_sync_command_line(infra, topic_prefix, sim):
    await seed(sim, 7)
    refresh = (await sim.grant("sonky"))["refresh_token"]
    env = {
        **os.environ,
        "EGRESS_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "EGRESS_MONGO_URI": infra.mongo_uri,
        "EGRESS_MONGO_DB": unique("db"),
        "EGRESS_TOPIC_PREFIX": topic_prefix,
        "EGRESS_ZALO_API_BASE": sim.url,
        "EGRESS_ZALO_OAUTH_BASE": sim.url,
        "EGRESS_BOOTSTRAP_REFRESH_TOKENS": json.dumps({"sonky": refresh}),
    }
    async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_EVENTS) as events:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.gateway.sync",
            "--oa",
            "sonky",
            cwd=REPO_ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        await events.wait_for(7)
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert (report["oa_key"], report["published"], report["error"]) == ("sonky", 7, None)
