"""Kill the news service abruptly mid-fan-out and start two replicas: nobody twice, nobody missed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts import OutboundCommand
from contracts.topics import ZALO_OUTBOUND_BULK
from devstack.paths import REPO_ROOT
from servicekit.testing import free_port, poll_until, unique
from services.news.tests.support import REGISTRY, SECRET, TopicReader, campaign_body, follower, token

pytestmark = pytest.mark.e2e

SLICE = 10
ACTIVE, STALE = 300, 100


def _env(infra: Any, prefix: str, db: str, group: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "NEWS_TOPIC_PREFIX": prefix,
        "NEWS_MONGO_DB": db,
        "NEWS_CONSUMER_GROUP": group,
        "NEWS_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "NEWS_MONGO_URI": infra.mongo_uri,
        "NEWS_HTTP_PORT": str(port),
        "NEWS_ENVIRONMENT": "dev",
        "NEWS_JWT_HS256_SECRET": SECRET,
        "NEWS_MAX_CAMPAIGN_SENDS_PER_S": "40",
        "NEWS_SEND_SLICE_MAX": str(SLICE),
        "NEWS_LEASE_TTL_S": "3",
        "NEWS_SCHEDULER_INTERVAL_S": "0.2",
        "NEWS_LOG_LEVEL": "WARNING",
    }


class Proc:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        with log.open("wb") as out:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "services.news"], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def ready(self) -> None:
        def probe() -> bool:
            if self.p.poll() is not None:
                raise AssertionError(f"news exited:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=2) as r:  # noqa: S310 - loopback
                    return r.status == 200
            except Exception:
                return False

        await poll_until(lambda: asyncio.to_thread(probe), "the news process to be ready", 60, interval=0.3)

    def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - loopback
            self.url(path),
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {who}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


async def test_kill_mid_fan_out_then_two_replicas_finish_it_exactly_once(infra, topic_prefix, tmp_path):
    db_name, group = unique("news"), unique("g")
    now = datetime.now(UTC)
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    oas = [o.key for o in REGISTRY.oas]
    active = [follower(oas[i % 18], unique("a"), active_hours_ago=1 + i % 40, now=now) for i in range(ACTIVE)]
    stale = [follower(oas[i % 18], unique("s"), active_hours_ago=72, now=now) for i in range(STALE)]
    await mongo[db_name]["subscribers"].insert_many(active + stale)

    reader = TopicReader(infra.kafka_bootstrap, topic_prefix + ZALO_OUTBOUND_BULK)
    await reader.start()
    procs: list[Proc] = []

    def start() -> Proc:
        port = free_port()
        p = Proc(_env(infra, topic_prefix, db_name, group, port), port, tmp_path / f"news-{len(procs)}.log")
        procs.append(p)
        return p

    def commands() -> list[OutboundCommand]:
        return [OutboundCommand.model_validate_json(r.value) for r in reader.records]

    try:
        first = start()
        await first.ready()
        status, c = first.call("POST", "/api/v1/campaigns", token("ed", "editor"), campaign_body())
        assert status == 201, c
        status, c = first.call("POST", f"/api/v1/campaigns/{c['id']}/approve", token("sup", "supervisor"))
        assert status == 200, c
        campaign_id = c["id"]

        async def some_sent():
            await reader.poll()
            return sum(1 for x in commands() if x.action == "send") >= ACTIVE // 3

        await poll_until(some_sent, "a third of the fan-out", 60)
        first.p.kill()  # SIGKILL: no drain, no lease release
        first.p.wait()

        second, third = start(), start()
        await asyncio.gather(second.ready(), third.ready())

        async def all_sent():
            await reader.poll()
            return len({x.command_id for x in commands() if x.action == "send"}) >= ACTIVE

        await poll_until(all_sent, "every reachable follower", 90)

        async def stream_done():
            doc = await mongo[db_name]["fanout"].find_one({"_id": campaign_id})
            return (doc or {}).get("dm", {}).get("stream_done")

        await poll_until(stream_done, "the fan-out to end", 30)
        for _ in range(10):  # settle: anything late would show up here
            await reader.poll()

        dms = [x for x in commands() if x.action == "send" and x.context.get("campaign_id") == campaign_id]
        per_recipient: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        for x in dms:
            per_recipient[(x.oa_id, x.user_id)].add(x.command_id)
        expected = {(d["oa_id"], d["user_id"]) for d in active}
        assert set(per_recipient) == expected, "nobody missed, nobody outside the window"
        assert all(len(ids) == 1 for ids in per_recipient.values()), "nobody got two different messages"
        assert len({x.command_id for x in dms}) == ACTIVE
        # Only the slice in flight at the kill may be produced again (same ids: the egress drops it).
        assert len(dms) - ACTIVE <= SLICE, f"{len(dms) - ACTIVE} re-produced commands"

        broadcasts = [x for x in commands() if x.action == "broadcast_article"]
        per_oa: dict[str, set[str]] = defaultdict(set)
        for x in broadcasts:
            per_oa[x.oa_id].add(x.command_id)
        assert set(per_oa) == {o.oa_id for o in REGISTRY.oas}
        assert all(len(ids) == 1 for ids in per_oa.values()), "every OA exactly one broadcast"

        status, prog = second.call("GET", f"/api/v1/campaigns/{campaign_id}/progress", token("ed", "editor"))
        assert status == 200
        d = prog["direct_messages"]
        assert (d["targeted"], d["reachable"], d["queued"], d["remaining"]) == (ACTIVE + STALE, ACTIVE, ACTIVE, 0)
    finally:
        for p in procs:
            p.stop()
        await reader.stop()
        await mongo.close()
