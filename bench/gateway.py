"""Gateway benchmark: `python -m bench.gateway` (also aggregated by `make bench` through `run()`).

Loopback only, real Kafka and FerretDB of the local stack, every component a separate process:

1. Ingress: an open-loop client offers 1,000 signed webhooks/s for 10 s to the ingress (verify,
   normalise, publish with acks=all) and, on the same machine with the same client, to a bare
   aiohttp handler that only answers 200. Latency is measured from each request's scheduled send
   time (no coordinated omission). Headline: `gateway_ingress_ratio` = ingress rate / bare rate.
2. Egress throughput: one egress process drains queued commands into the Zalo simulator with the
   simulator's rate limit off (and ours far above it): messages/s in steady state.
3. Egress limit adherence: two egress processes share a configured limit (set to ~60% of the
   measured throughput so the limiter, not the machine, is what binds); the simulator enforces the
   same limit. `egress_limit_adherence` = mean calls per full window / limit (target ≥ 0.95), and
   `egress_limit_max_window_ratio` must never exceed 1 (any excess would also show as -32 calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from contracts import OutboundCommand, citizen_key, utcnow
from contracts.topics import ZALO_EVENTS, ZALO_OUTBOUND
from devstack import ferretdb, kafka
from devstack.paths import REPO_ROOT, StackConfig
from devstack.topics import delete_prefixed, ensure_topics
from servicekit.ids import derived_id
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer, Outgoing
from servicekit.registry import load_registry
from servicekit.testing import free_port, poll_until, unique

OFFERED_RPS = 1000
INGRESS_SECONDS = 10.0
EGRESS_QUEUE = 4000
EGRESS_SECONDS = 15.0
LIMIT_WINDOW_S = 4.0
LIMIT_FULL_WINDOWS = 5
OA_SECRET = "dev-oa-secret-key"  # noqa: S105 - the dev default of both the simulator and the ingress


# -- processes -------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM to this process group (we started it in its own session), then SIGKILL."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


@contextlib.asynccontextmanager
async def process(name: str, argv: Sequence[str], env: dict[str, str], port: int, logs: Path) -> AsyncIterator[Proc]:
    proc = Proc(name, await asyncio.to_thread(_spawn, argv, env, logs / f"{name}.log"), port)
    try:
        yield proc
    finally:
        await asyncio.to_thread(proc.stop)


async def wait_ready(http: aiohttp.ClientSession, proc: Proc, path: str, logs: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{(logs / f'{proc.name}.log').read_text()[-2000:]}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(proc.url + path) as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {timeout}s")


def _spawn(argv: Sequence[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@contextlib.asynccontextmanager
async def topics(bootstrap: str, partitions: int | None = None) -> AsyncIterator[str]:
    """A fresh topic prefix, deleted afterwards (a broker holds a few files open per partition)."""
    prefix = unique("bench") + "."
    await ensure_topics(bootstrap, prefix, max_partitions=partitions)
    try:
        yield prefix
    finally:
        with contextlib.suppress(Exception):
            await delete_prefixed(bootstrap, prefix)


def py(module: str) -> list[str]:
    return [sys.executable, "-m", module]


# -- ingress ---------------------------------------------------------------------------------


def bare_app() -> web.Application:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    return app


def signed_webhooks(n: int, app_id: str, oa_id: str) -> list[tuple[bytes, dict[str, str]]]:
    """Distinct, signed user_send_text webhooks (so none is deduplicated), 200 citizens."""
    now_ms = int(time.time() * 1000)
    out = []
    for i in range(n):
        body = {
            "app_id": app_id,
            "sender": {"id": str(7_000_000_000_000_000_000 + i % 200)},
            "user_id_by_app": "552177279717587730",
            "recipient": {"id": oa_id},
            "event_name": "user_send_text",
            "message": {"text": f"Cho hỏi thủ tục tạm trú {i}", "msg_id": derived_id("bench", i, now_ms)[:20]},
            "timestamp": str(now_ms + i),
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        mac = hashlib.sha256(app_id.encode() + raw + body["timestamp"].encode() + OA_SECRET.encode()).hexdigest()
        out.append((raw, {"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"}))
    return out


@dataclass
class Load:
    ok: int
    errors: int
    statuses: dict[str, int]
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float


async def offer(url: str, requests: list[tuple[bytes, dict[str, str]]], rate: float) -> Load:
    """Open loop: request i is due at t0 + i/rate whatever happened before; latency counts from then."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as http:
        t0 = loop.time() + 0.05
        last = t0

        async def one(i: int) -> None:
            nonlocal last
            scheduled = t0 + i / rate
            raw, headers = requests[i]
            try:
                async with http.post(url, data=raw, headers=headers) as r:
                    text = await r.text()
                    kind = str(r.status)
                    if r.status == 200 and '"spooled"' in text:
                        kind = "200-spooled"
                    statuses[kind] += 1
            except (aiohttp.ClientError, OSError) as exc:
                statuses[type(exc).__name__] += 1
            now = loop.time()
            latencies.append(now - scheduled)
            last = max(last, now)

        tasks: list[asyncio.Task[None]] = []
        i, n = 0, len(requests)
        while i < n:
            due = min(n, int((loop.time() - t0) * rate) + 1)
            while i < due:
                tasks.append(asyncio.create_task(one(i)))
                i += 1
            await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)
    ok = statuses["200"] + statuses["200-spooled"]
    latencies.sort()
    return Load(
        ok=ok,
        errors=n - ok,
        statuses=dict(statuses),
        rps=ok / (last - t0),
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        max_ms=1000 * latencies[-1],
    )


async def topic_records(bootstrap: str, topic: str) -> int:
    """Records in a topic (sum of its partitions' end offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p["partition"]) for p in described["partitions"]])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def bench_ingress(cfg: StackConfig, logs: Path, http: aiohttp.ClientSession) -> dict[str, float]:
    registry = load_registry()
    oa = registry.by_key("tanphu")
    n = int(OFFERED_RPS * INGRESS_SECONDS)
    warm = signed_webhooks(n + 300, registry.app_id, oa.oa_id)
    warmup, measured = warm[n:], warm[:n]

    bare_port, ingress_port = free_port(), free_port()
    bare_env = {"BENCH_BARE_PORT": str(bare_port)}
    async with process("bare-http", [*py("bench.gateway"), "--bare-server"], bare_env, bare_port, logs) as bare:
        await wait_ready(http, bare, "/", logs)
        await offer(bare.url + "/zalo/webhook", warmup, 300)
        bare_load = await offer(bare.url + "/zalo/webhook", measured, OFFERED_RPS)

    async with topics(cfg.kafka_bootstrap) as prefix:
        env = {
            "INGRESS_HTTP_PORT": str(ingress_port),
            "INGRESS_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
            "INGRESS_TOPIC_PREFIX": prefix,
            "INGRESS_SPOOL_DIR": str(logs / "spool"),
        }
        async with process("gateway-ingress", py("services.gateway.ingress"), env, ingress_port, logs) as ingress:
            await wait_ready(http, ingress, "/readyz", logs)
            await offer(ingress.url + "/zalo/webhook", warmup, 300)  # connections, topic metadata
            ingress_load = await offer(ingress.url + "/zalo/webhook", measured, OFFERED_RPS)
        published = await topic_records(cfg.kafka_bootstrap, prefix + ZALO_EVENTS)

    print(f"  bare handler : {bare_load}")
    print(f"  ingress      : {ingress_load}")
    return {
        "gateway_ingress_offered_rps": float(OFFERED_RPS),
        "gateway_ingress_rps": round(ingress_load.rps, 1),
        "gateway_ingress_p50_ms": round(ingress_load.p50_ms, 2),
        "gateway_ingress_p99_ms": round(ingress_load.p99_ms, 2),
        "gateway_ingress_max_ms": round(ingress_load.max_ms, 2),
        "gateway_ingress_errors": float(ingress_load.errors),
        "gateway_ingress_spooled": float(ingress_load.statuses.get("200-spooled", 0)),
        "gateway_ingress_published_records": float(published),
        "gateway_ingress_bare_rps": round(bare_load.rps, 1),
        "gateway_ingress_bare_p50_ms": round(bare_load.p50_ms, 2),
        "gateway_ingress_bare_p99_ms": round(bare_load.p99_ms, 2),
        "gateway_ingress_ratio": round(ingress_load.rps / bare_load.rps, 3),
    }


# -- egress ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def simulator(
    logs: Path, http: aiohttp.ClientSession, name: str, rate_limit: int, window_s: float
) -> AsyncIterator[Proc]:
    port = free_port()
    env = {
        "ZALOSIM_PORT": str(port),
        "ZALOSIM_RATE_LIMIT": str(rate_limit),
        "ZALOSIM_RATE_WINDOW_SECONDS": str(window_s),
        "ZALOSIM_WEBHOOK_URL": "http://127.0.0.1:9/unused",
    }
    async with process(name, py("zalosim"), env, port, logs) as sim:
        await wait_ready(http, sim, "/_sim/health", logs)
        await control(http, sim, "POST", "/_sim/webhook", {"subscribed": False})  # no echo webhooks
        yield sim


async def control(http: aiohttp.ClientSession, sim: Proc, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, sim.url + path, json=body) as r:
        r.raise_for_status()
        return await r.json()


async def prepare_citizens(http: aiohttp.ClientSession, sim: Proc, n: int) -> list[str]:
    users = [str(8_000_000_000_000_000_000 + i) for i in range(n)]
    for user in users:
        await control(http, sim, "POST", f"/_sim/users/tanphu/{user}/last_interaction", {"seconds_ago": 60})
    return users


async def queue_commands(bootstrap: str, prefix: str, users: list[str], n: int) -> None:
    oa_id = load_registry().by_key("tanphu").oa_id
    producer = EventProducer(bootstrap, KitMetrics(CollectorRegistry()), prefix, "bench")
    await producer.start()
    try:
        batch: list[Outgoing] = []
        for i in range(n):
            cid = derived_id("bench-cmd", prefix, i)
            cmd = OutboundCommand(
                event_id=cid,
                occurred_at=utcnow(),
                producer="bench",
                correlation_id=cid,
                command_id=cid,
                oa_id=oa_id,
                user_id=users[i % len(users)],
                message={"text": f"Thông báo {i}"},
            )
            batch.append(Outgoing(ZALO_OUTBOUND, citizen_key(oa_id, cmd.user_id), cmd))
            if len(batch) == 500:
                await producer.publish_all(batch)
                batch = []
        await producer.publish_all(batch)
    finally:
        await producer.stop()


def egress_env(cfg: StackConfig, sim: Proc, prefix: str, db: str, group: str, refresh: str, **extra: str) -> dict:
    return {
        "EGRESS_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "EGRESS_MONGO_URI": cfg.mongo_uri,
        "EGRESS_MONGO_DB": db,
        "EGRESS_CONSUMER_GROUP": group,
        "EGRESS_TOPIC_PREFIX": prefix,
        "EGRESS_ZALO_API_BASE": sim.url,
        "EGRESS_ZALO_OAUTH_BASE": sim.url,
        "EGRESS_BOOTSTRAP_REFRESH_TOKENS": json.dumps({"tanphu": refresh}),
        "EGRESS_LOG_LEVEL": "WARNING",
        **extra,
    }


async def sim_messages(http: aiohttp.ClientSession, sim: Proc) -> int:
    return int((await control(http, sim, "GET", "/_sim/stats"))["totals"]["messages"])


async def _at_least(http: aiohttp.ClientSession, sim: Proc, n: int) -> bool:
    return await sim_messages(http, sim) >= n


async def bench_egress_throughput(cfg: StackConfig, logs: Path, http: aiohttp.ClientSession) -> float:
    async with topics(cfg.kafka_bootstrap) as prefix, simulator(logs, http, "zalosim-open", 10**9, 60.0) as sim:
        users = await prepare_citizens(http, sim, 240)
        await queue_commands(cfg.kafka_bootstrap, prefix, users, EGRESS_QUEUE)
        refresh = (await control(http, sim, "POST", "/_sim/oauth/tanphu/grant"))["refresh_token"]
        port = free_port()
        env = egress_env(
            cfg,
            sim,
            prefix,
            unique("benchdb"),
            unique("g"),
            refresh,
            EGRESS_HTTP_PORT=str(port),
            EGRESS_RATE_LIMIT_PER_WINDOW=str(10**7),
        )
        async with process("gateway-egress-1", py("services.gateway.egress"), env, port, logs) as egress:
            await wait_ready(http, egress, "/readyz", logs)
            # warmed up: joined the group, token refreshed, first sends done
            await poll_until(lambda: _at_least(http, sim, 50), "the first sends", timeout=60, interval=0.2)
            start_n, start_t = await sim_messages(http, sim), time.monotonic()
            end_n, end_t = start_n, start_t
            while time.monotonic() - start_t < EGRESS_SECONDS and end_n < EGRESS_QUEUE:
                await asyncio.sleep(0.5)
                end_n, end_t = await sim_messages(http, sim), time.monotonic()
    rate = (end_n - start_n) / (end_t - start_t)
    print(f"  egress alone : {end_n - start_n} messages in {end_t - start_t:.1f} s = {rate:.1f}/s")
    return rate


async def bench_egress_limit(cfg: StackConfig, logs: Path, http: aiohttp.ClientSession, capacity: float) -> dict:
    limit = max(10, int(0.6 * capacity * LIMIT_WINDOW_S))
    total_s = LIMIT_WINDOW_S * (LIMIT_FULL_WINDOWS + 3)
    async with (
        topics(cfg.kafka_bootstrap) as prefix,
        simulator(logs, http, "zalosim-limited", limit, LIMIT_WINDOW_S) as sim,
    ):
        users = await prepare_citizens(http, sim, 240)
        await queue_commands(cfg.kafka_bootstrap, prefix, users, int(limit / LIMIT_WINDOW_S * total_s * 1.5))
        refresh = (await control(http, sim, "POST", "/_sim/oauth/tanphu/grant"))["refresh_token"]
        db, group = unique("benchdb"), unique("g")
        extra = {"EGRESS_RATE_LIMIT_PER_WINDOW": str(limit), "EGRESS_RATE_WINDOW_S": str(LIMIT_WINDOW_S)}
        ports = [free_port(), free_port()]
        envs = [egress_env(cfg, sim, prefix, db, group, refresh, EGRESS_HTTP_PORT=str(p), **extra) for p in ports]
        async with (
            process("gateway-egress-a", py("services.gateway.egress"), envs[0], ports[0], logs) as a,
            process("gateway-egress-b", py("services.gateway.egress"), envs[1], ports[1], logs) as b,
        ):
            await wait_ready(http, a, "/readyz", logs)
            await wait_ready(http, b, "/readyz", logs)
            await poll_until(lambda: _at_least(http, sim, 1), "the first send", timeout=60, interval=0.2)
            await asyncio.sleep(LIMIT_WINDOW_S * (LIMIT_FULL_WINDOWS + 2))  # the measurement: let it run
            calls = (await control(http, sim, "GET", "/_sim/calls?path=/v3.0/oa/message/cs&limit=100000"))["items"]
    per_window = Counter(int(c["at_ms"] // (LIMIT_WINDOW_S * 1000)) for c in calls)
    windows = sorted(per_window)
    full = [per_window[w] for w in windows[1:-1]]
    refused = sum(1 for c in calls if c.get("error") == -32)
    adherence = statistics.mean(full) / limit if full else 0.0
    print(f"  limit        : {limit} per {LIMIT_WINDOW_S:g} s, full windows {full}, -32: {refused}")
    return {
        "gateway_egress_limit_per_window": float(limit),
        "gateway_egress_limit_window_s": LIMIT_WINDOW_S,
        "egress_limit_adherence": round(adherence, 3),
        "egress_limit_max_window_ratio": round(max(full) / limit if full else 0.0, 3),
        "egress_limit_full_windows": float(len(full)),
        "egress_rate_limited_calls": float(refused),
    }


# -- entry points ----------------------------------------------------------------------------


async def _run(parts: Sequence[str]) -> dict[str, float]:
    cfg = StackConfig.from_env()
    await asyncio.to_thread(ferretdb.start, cfg)
    await asyncio.to_thread(kafka.start, cfg)
    started = time.monotonic()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        logs = Path(tmp)
        async with aiohttp.ClientSession() as http:
            if "ingress" in parts:
                print("gateway ingress (1,000 webhooks/s offered for 10 s):")
                results |= await bench_ingress(cfg, logs, http)
            if "egress" in parts:
                print("gateway egress:")
                throughput = await bench_egress_throughput(cfg, logs, http)
                results["gateway_egress_msgs_per_s"] = round(throughput, 1)
                results |= await bench_egress_limit(cfg, logs, http, throughput)
    results["gateway_bench_seconds"] = round(time.monotonic() - started, 1)
    return results


def run(parts: Sequence[str] = ("ingress", "egress")) -> dict[str, float]:
    """Run the gateway benchmarks; flat snake_case metrics, units in the names."""
    return asyncio.run(_run(parts))


def _serve_bare() -> None:
    web.run_app(bare_app(), host="127.0.0.1", port=int(os.environ["BENCH_BARE_PORT"]), print=None, access_log=None)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["ingress", "egress"], help="run one part only")
    args = parser.parse_args(argv)
    if args.bare_server:
        _serve_bare()
        return
    results = run([args.only] if args.only else ("ingress", "egress"))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:g}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
