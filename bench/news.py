"""News benchmark: `python -m bench.news` (also aggregated by `make bench` through `run()`).

District scale on the local stack (real Kafka and FerretDB, the service as a separate process):

1. Registry: 472,896 synthetic followers over the 18 OAs, written with insert_many in batches;
   ~15 % interacted within the last 7 days (uniformly), the rest earlier or never.
2. One campaign for everyone (article broadcast + direct messages, billed window allowed, so every
   follower active within 7 days is reachable), sent with the campaign rate limit lifted so that
   the figures show the service, not the limiter: time to plan (the service's own plan timestamps),
   enqueue rate (from the records' producer timestamps on zalo.outbound.v1).
3. Kill and resume: SIGKILL the service when ~40 % of the messages are out, start a new process,
   let it finish. From the outbound topic: `broadcast_duplicates` (recipients or OAs with more than
   one distinct command id) and `broadcast_missed` (planned recipients and OAs without a command),
   both must be 0. `news_peak_rss_mb` is the larger VmHWM of the two processes (target < 250 MB).

Bounded: the whole run stops after ~4 minutes and reports what it measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from bench.figures import print_figures
from contracts.topics import ZALO_OUTBOUND_BULK, topic
from devstack import ferretdb, kafka
from devstack.paths import REPO_ROOT, StackConfig
from devstack.topics import delete_prefixed, ensure_topics
from servicekit.registry import load_registry
from servicekit.testing import free_port, unique
from services.news.domain import Subscriber
from services.news.settings import NewsSettings
from services.news.store import subscriber_doc

FOLLOWERS = 472_896
ACTIVE_7D = 0.15
INSERT_BATCH = 10_000
INSERT_CONCURRENCY = 1  # FerretDB/SQLite has one writer: more only adds contention (measured)
KILL_AT = 0.40
DEADLINE_S = 235.0
JWT_SECRET = "bench-news-jwt-secret-0123456789abcdef0123"  # noqa: S105 - local benchmark only
ISSUER = NewsSettings.model_fields["jwt_issuer"].default
AUDIENCE = NewsSettings.model_fields["jwt_audience"].default


class OutOfTime(Exception):
    pass


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def left(self) -> float:
        return DEADLINE_S - (time.monotonic() - self.start)

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise OutOfTime(what)


# -- followers -------------------------------------------------------------------------------
def _templates() -> list[dict[str, Any]]:
    """One stored follower per OA: the service's own `subscriber_doc`, without the fields that hold
    their default (the reader treats a missing field as its default, as after an interaction upsert).
    FerretDB's insert rate falls with document width (measured: 4 fields ~16k/s, 20 fields ~4k/s)."""
    defaults = subscriber_doc(Subscriber(oa_id="", user_id=""))
    out = []
    for oa in load_registry().oas:
        doc = subscriber_doc(Subscriber(oa_id=oa.oa_id, user_id="0", following=True, oa_ward=oa.ward, ward=oa.ward))
        out.append({k: v for k, v in doc.items() if k in ("_id", "oa_id", "user_id") or v != defaults.get(k)})
    return out


def _batches(now: datetime, rng: random.Random):
    """Followers in batches; the district OA has the most, units fewer, wards in between."""
    templates = _templates()
    weights = [6.0 if i == 0 else (1.5 if t.get("ward") else 1.0) for i, t in enumerate(templates)]
    batch: list[dict[str, Any]] = []
    for i in range(FOLLOWERS):
        t = rng.choices(templates, weights)[0]
        doc = dict(t)
        user_id = str(10**17 + i * 7919)
        doc["user_id"] = user_id
        doc["_id"] = f"{t['oa_id']}:{user_id}"
        r = rng.random()
        if r < ACTIVE_7D:
            doc["last_interaction_at"] = now - timedelta(hours=rng.uniform(0.05, 167.5))
        elif r < 0.75:
            doc["last_interaction_at"] = now - timedelta(days=rng.uniform(8, 365))
        batch.append(doc)
        if len(batch) == INSERT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def load_followers(db: Any, now: datetime) -> tuple[float, dict[str, datetime]]:
    """Insert every follower; (seconds, last interaction of each follower active within 7 days)."""
    started = time.monotonic()
    queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(maxsize=INSERT_CONCURRENCY * 2)
    active: dict[str, datetime] = {}

    async def writer() -> None:
        while (batch := await queue.get()) is not None:
            await db["subscribers"].insert_many(batch, ordered=False)

    writers = [asyncio.create_task(writer()) for _ in range(INSERT_CONCURRENCY)]
    cutoff = now - timedelta(days=7)
    for batch in _batches(now, random.Random(20261130)):
        active.update(
            (d["_id"], d["last_interaction_at"]) for d in batch if d.get("last_interaction_at", cutoff) > cutoff
        )
        await queue.put(batch)
    for _ in writers:
        await queue.put(None)
    await asyncio.gather(*writers)
    return time.monotonic() - started, active


# -- the service process ---------------------------------------------------------------------
class NewsProcess:
    """`python -m services.news` with its peak RSS (VmHWM) sampled from /proc."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "services.news"], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
            )
        self.peak_kb = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        status = Path(f"/proc/{self.popen.pid}/status")
        while not self._stop.is_set() and self.popen.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(0.1)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {who}", "Content-Type": "application/json"}
        req = urllib.request.Request(self.url(path), data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=120) as r:  # noqa: S310 - loopback
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    async def ready(self, clock: Clock) -> None:
        def probe() -> bool:
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=2) as r:  # noqa: S310 - loopback
                    return r.status == 200
            except Exception:
                return False

        while not await asyncio.to_thread(probe):
            if self.popen.poll() is not None:
                raise RuntimeError("news exited:\n" + self.log.read_text(errors="replace")[-3000:])
            clock.check("news readiness")
            await asyncio.sleep(0.3)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self._stop.set()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._stop.set()


def _token(sub: str, role: str) -> str:
    claims = {
        "sub": sub,
        "role": role,
        "unit": "tanphu",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


# -- the outbound topic ----------------------------------------------------------------------
class Outbound:
    """Counts the campaign commands on zalo.outbound.bulk.v1: per recipient and per OA, distinct command ids."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.dm: dict[str, set[str]] = defaultdict(set)
        self.article: dict[str, set[str]] = defaultdict(set)
        self.dm_records = 0
        self.dm_times: list[float] = []  # producer timestamps (epoch s) of the direct-message records
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, max_poll_records=5000
        )
        await self._consumer.start()
        tps = [TopicPartition(self.topic, p) for p in range(topic(ZALO_OUTBOUND_BULK).partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for recs in batch.values():
                for r in recs:
                    cmd = json.loads(r.value)
                    if cmd["action"] == "send":
                        self.dm[f"{cmd['oa_id']}:{cmd['user_id']}"].add(cmd["command_id"])
                        self.dm_records += 1
                        self.dm_times.append(r.timestamp / 1000)
                    elif cmd["action"] == "broadcast_article":
                        self.article[cmd["oa_id"]].add(cmd["command_id"])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


# -- the run ---------------------------------------------------------------------------------
def _env(cfg: StackConfig, prefix: str, db: str, group: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "NEWS_TOPIC_PREFIX": prefix,
        "NEWS_MONGO_DB": db,
        "NEWS_CONSUMER_GROUP": group,
        "NEWS_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "NEWS_MONGO_URI": cfg.mongo_uri,
        "NEWS_HTTP_PORT": str(port),
        "NEWS_ENVIRONMENT": "dev",
        "NEWS_JWT_HS256_SECRET": JWT_SECRET,
        "NEWS_MAX_CAMPAIGN_SENDS_PER_S": "1000000",  # measure the service, not the limiter
        "NEWS_SEND_SLICE_MAX": "500",
        "NEWS_PLAN_BATCH": "2000",
        "NEWS_LEASE_TTL_S": "3",
        "NEWS_SCHEDULER_INTERVAL_S": "0.2",
        "NEWS_PROGRESS_INTERVAL_S": "600",
        "NEWS_LOG_LEVEL": "WARNING",
    }


async def _wait(cond, clock: Clock, what: str, interval: float = 0.2) -> Any:
    while True:
        value = await cond()
        if value:
            return value
        clock.check(what)
        await asyncio.sleep(interval)


async def bench() -> dict[str, float]:
    clock = Clock()
    cfg = StackConfig.from_env()
    await asyncio.to_thread(ferretdb.start, cfg)
    await asyncio.to_thread(kafka.start, cfg)
    prefix, db_name, group = unique("bench") + ".", unique("bench_news_"), unique("g")
    await ensure_topics(cfg.kafka_bootstrap, prefix)
    mongo = AsyncMongoClient(cfg.mongo_uri, tz_aware=True)
    db = mongo[db_name]
    workdir = Path(tempfile.mkdtemp(prefix="bench-news-"))
    results: dict[str, float] = {"followers": float(FOLLOWERS)}
    procs: list[NewsProcess] = []
    outbound = Outbound(cfg.kafka_bootstrap, prefix + ZALO_OUTBOUND_BULK)
    try:
        now = datetime.now(UTC)

        def start() -> NewsProcess:
            port = free_port()
            p = NewsProcess(_env(cfg, prefix, db_name, group, port), port, workdir / f"news-{len(procs)}.log")
            procs.append(p)
            return p

        first = start()  # starts while the followers are written
        print(f"news: inserting {FOLLOWERS:,} followers …", flush=True)
        insert_s, active = await load_followers(db, now)
        results |= {
            "followers_active_7d": float(len(active)),
            "followers_insert_s": round(insert_s, 1),
            "followers_insert_per_s": round(FOLLOWERS / insert_s),
        }
        print(f"  inserted in {insert_s:.1f} s ({FOLLOWERS / insert_s:,.0f}/s), {len(active):,} active within 7 days")
        await outbound.start()
        await first.ready(clock)
        body = {
            "title": "Cảnh báo thủ đoạn lừa đảo qua mạng",
            "summary": "Công an quận cảnh báo người dân cảnh giác với các cuộc gọi giả danh cơ quan chức năng.",
            "cover_url": "https://cdn.example.vn/cover.jpg",
            "body": [{"type": "text", "content": "Nội dung chi tiết."}],
            "link": "https://congan.example.vn/tin/canh-bao",
            "target": {"everyone": True},
            "channels": {"article": True, "direct": True, "allow_billed": True},
        }
        status, c = await asyncio.to_thread(first.call, "POST", "/api/v1/campaigns", _token("ed", "editor"), body)
        assert status == 201, c
        campaign_id = c["id"]
        approved_wall = time.time()
        status, c = await asyncio.to_thread(
            first.call, "POST", f"/api/v1/campaigns/{campaign_id}/approve", _token("sup", "supervisor")
        )
        assert status == 200, c

        async def run_doc() -> dict[str, Any]:
            return await db["fanout"].find_one({"_id": campaign_id}) or {}

        async def planned() -> dict[str, Any] | None:
            plan = (await run_doc()).get("plan") or {}
            return plan if plan.get("done") else None

        plan = await _wait(planned, clock, "the plan")
        plan_s = (plan["finished_at"] - plan["started_at"]).total_seconds()
        reachable = int(plan["reachable"])
        results |= {
            "campaign_targeted": float(plan["targeted"]),
            "campaign_reachable_dm": float(reachable),
            "campaign_plan_s": round(plan_s, 1),
        }
        print(f"  planned in {plan_s:.1f} s: {plan['targeted']:,} targeted, {reachable:,} reachable directly")

        # The kill point is read from the service's confirmed cursor counter (`dm.queued`): the topic
        # reader lags the producer by thousands of records at full speed. Rates come from the records'
        # own timestamps (when the service produced them), not from polling.
        async def queued() -> int:
            return int(((await run_doc()).get("dm") or {}).get("queued", 0))

        async def kill_point() -> bool:
            n = await queued()
            if time.monotonic() - last_print[0] > 5:
                last_print[0] = time.monotonic()
                print(f"  … {n:,} direct messages out", flush=True)
            return n >= KILL_AT * reachable

        last_print = [time.monotonic()]
        await _wait(kill_point, clock, "the kill point", 0.05)
        first.kill()
        killed_wall = time.time()
        print(f"  killed after {await queued():,} confirmed messages; starting a new process", flush=True)
        second = start()
        restarted_wall = time.time()
        await second.ready(clock)

        async def stream_done() -> bool:
            return bool(((await run_doc()).get("dm") or {}).get("stream_done"))

        await _wait(stream_done, clock, "the end of the fan-out")

        async def reader_caught_up() -> bool:  # nothing new on the topic for 2 s
            seen = outbound.dm_records
            await asyncio.sleep(2.0)
            return outbound.dm_records == seen

        await _wait(reader_caught_up, clock, "the topic reader", 0.0)
        before = [t for t in outbound.dm_times if t <= killed_wall]
        after = [t for t in outbound.dm_times if t > killed_wall]
        span_before = max(before) - min(before) if len(before) > 1 else 0.0
        span_after = max(after) - min(after) if len(after) > 1 else 0.0
        results |= {
            "first_dm_after_approve_s": round(min(outbound.dm_times) - approved_wall, 1),
            "enqueue_rate_per_s": round((len(before) + len(after)) / max(1e-3, span_before + span_after)),
            "enqueue_rate_before_kill_per_s": round(len(before) / max(1e-3, span_before)),
            "enqueue_rate_after_resume_per_s": round(len(after) / max(1e-3, span_after)),
            "resume_gap_s": round(min(after) - restarted_wall, 1) if after else -1.0,
        }
        print(f"  fan-out: {len(before):,} commands before the kill, {len(after):,} after the restart")

        # Expected from the seed, not from the service's own records: every follower whose last
        # interaction is inside the window at planning, minus those skipped because it closed since.
        cutoff = plan["cutoff"]
        expected = {key for key, last in active.items() if last >= cutoff}
        skipped_ids: set[str] = set()
        if sum(((await run_doc()).get("dm") or {}).get("skipped", {}).values()):
            query = {"campaign_id": campaign_id, "kind": "dm", "status": "skipped"}
            skipped_ids = {d["recipient"] async for d in db["deliveries"].find(query, {"recipient": 1})}
        duplicates = sum(1 for ids in outbound.dm.values() if len(ids) > 1)
        missed = len(expected - set(outbound.dm) - skipped_ids)
        outside = len(set(outbound.dm) - expected)
        skipped = len(skipped_ids)
        oa_ids = {o.oa_id for o in load_registry().oas}
        article_dups = sum(1 for ids in outbound.article.values() if len(ids) > 1)
        article_missed = len(oa_ids - set(outbound.article))
        results |= {
            "dm_commands_distinct": float(len(outbound.dm)),
            "dm_commands_reproduced": float(outbound.dm_records - sum(len(v) for v in outbound.dm.values())),
            "dm_skipped_window_closed": float(skipped),
            "dm_outside_plan": float(outside),
            "article_broadcasts": float(sum(len(v) for v in outbound.article.values())),
            "article_broadcast_duplicates": float(article_dups),
            "article_broadcast_missed": float(article_missed),
            "broadcast_duplicates": float(duplicates + article_dups),
            "broadcast_missed": float(missed + article_missed),
            "news_peak_rss_first_mb": round(first.peak_mb, 1),
            "news_peak_rss_second_mb": round(second.peak_mb, 1),
            "news_peak_rss_mb": round(max(first.peak_mb, second.peak_mb), 1),
        }
        results["completed"] = 1.0
    except OutOfTime as late:
        print(f"  stopped: out of time while waiting for {late}")
        results["completed"] = 0.0
    finally:
        for p in procs:
            p.stop()
        if procs and "news_peak_rss_mb" not in results:
            results["news_peak_rss_mb"] = round(max(p.peak_mb for p in procs), 1)
        for cleanup in (outbound.stop(), delete_prefixed(cfg.kafka_bootstrap, prefix), mongo.drop_database(db_name)):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await cleanup
        await mongo.close()
        if results.get("completed") == 1.0:
            shutil.rmtree(workdir, ignore_errors=True)  # kept for its logs when something went wrong
        else:
            print(f"  service logs kept in {workdir}")
    results["news_bench_s"] = round(time.monotonic() - clock.start, 1)
    return results


def run() -> dict[str, float]:
    """Run the benchmark; the flat dict of figures (names carry units)."""
    return asyncio.run(bench())


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
