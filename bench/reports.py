"""`python -m bench.reports`: intake rate and officer-list latency of the reports service.

1. Intake: a burst of submissions published on `reports.submitted.v1`, measured until every
   acknowledgement command is on `zalo.outbound.v1` (rate, and latency inside the burst); then single
   reports one at a time (the acknowledgement latency a citizen sees at ordinary load). The service
   runs as its own process, on the local Kafka and FerretDB.
2. List: 100,000 cases seeded with insert_many, the service started on them (its in-memory list index loads),
   then a mix of list requests (filters, text search, urgent-first, next pages) timed from the client.

Prints the figures and returns them as a flat dict (snake_case names carry their units). Bounded to about
two minutes; everything it creates (topics, databases) is removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts import OutboundCommand, ReportSubmitted, citizen_key, utcnow
from contracts.topics import REPORTS_SUBMITTED, ZALO_OUTBOUND
from devstack import ferretdb, kafka
from devstack.paths import REPO_ROOT, StackConfig
from devstack.topics import delete_prefixed, ensure_topics
from servicekit.ids import derived_id
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer, Outgoing
from servicekit.registry import load_registry
from servicekit.testing import free_port, poll_until, unique
from servicekit.text import fold
from services.reports.auth import mint
from services.reports.caseindex import encode_summary, summary_from_doc
from services.reports.settings import DEV_JWT_SECRET, ReportsSettings

INTAKE_CASES = 400
WARMUP_CASES = 20
SINGLE_CASES = 10
LIST_CASES = 100_000
LIST_ROUNDS = 50
INTAKE_TIMEOUT_S = 90.0
LIST_TARGET_P99_MS = 100.0

DESCRIPTIONS = [
    "Tối qua khoảng 22 giờ nhà tôi ở hẻm {n} bị kẻ gian cạy cửa lấy mất xe máy Honda Wave màu đỏ.",
    "Có nhóm thanh niên tụ tập uống rượu, hát karaoke rất to đến khuya ở đầu hẻm {n}, ảnh hưởng cả khu.",
    "Tôi bị lừa chuyển khoản {n} triệu đồng qua Facebook, đối tượng giả danh nhân viên ngân hàng.",
    "Đoạn đường trước chợ thường xuyên bị lấn chiếm vỉa hè, xe đậu tràn ra lòng đường gây kẹt xe.",
    "Phát hiện mùi gas nồng nặc từ căn nhà số {n}, chủ nhà đi vắng, lo ngại nguy cơ cháy nổ.",
    "Nhóm thanh niên chạy xe lạng lách, đua xe vào ban đêm trên đường Lũy Bán Bích, rất nguy hiểm.",
]
CATEGORIES = ["theft", "gathering", "fraud", "encroachment", "fire_hazard", "racing"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


class Service:
    """The reports service as a process (like production: its own interpreter and event loop)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.port = int(env["REPORTS_HTTP_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, http: aiohttp.ClientSession, timeout_s: float = 90.0) -> float:
        started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - started once; the bench waits on HTTP, not on it
                [sys.executable, "-m", "services.reports"],
                cwd=REPO_ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reports exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                async with http.get(self.base + "/readyz") as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("reports did not become ready")

    def rss_mb(self) -> float:
        if self.proc is None:
            return 0.0
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def service_env(cfg: StackConfig, prefix: str, db: str) -> dict[str, str]:
    return {
        "REPORTS_ENVIRONMENT": "dev",
        "REPORTS_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "REPORTS_MONGO_URI": cfg.mongo_uri,
        "REPORTS_MONGO_DB": db,
        "REPORTS_TOPIC_PREFIX": prefix,
        "REPORTS_CONSUMER_GROUP": unique("bench-g"),
        "REPORTS_HTTP_PORT": str(free_port()),
        "REPORTS_LOG_LEVEL": "WARNING",
        "REPORTS_INDEX_LOAD_TIMEOUT_S": "120",
    }


def submission(oa_ids: list[str], i: int) -> ReportSubmitted:
    k = i % len(DESCRIPTIONS)
    return ReportSubmitted(
        event_id=unique("bench-ev"),
        occurred_at=utcnow(),
        producer="bench",
        correlation_id=unique("bench-c"),
        submission_id=unique("bench-s"),
        oa_id=random.choice(oa_ids),
        user_id="3" + str(random.randrange(10**16, 10**17)),
        kind="public_order" if k in (1, 3) else "crime",
        category=CATEGORIES[k],
        description=DESCRIPTIONS[k].format(n=i),
        anonymous=i % 3 == 0,
    )


async def measure_intake(cfg: StackConfig, prefix: str, workdir: Path) -> dict[str, float]:
    registry = load_registry()
    oa_ids = [o.oa_id for o in registry.oas]
    service = Service(service_env(cfg, prefix, unique("bench_reports_intake")), workdir / "intake.log")
    producer = EventProducer(cfg.kafka_bootstrap, KitMetrics(CollectorRegistry()), prefix)
    reader = AIOKafkaConsumer(
        prefix + ZALO_OUTBOUND,
        bootstrap_servers=cfg.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    acked: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:
        await producer.start()
        await reader.start()
        await reader.getmany(timeout_ms=500)

        async def collect() -> None:
            while True:
                batches = await reader.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batches.values():
                    for rec in records:
                        cmd = OutboundCommand.model_validate_json(rec.value)
                        if cmd.lane == "notice" and "case_id" in cmd.context:
                            acked.setdefault(cmd.context["case_id"], now)

        collector = asyncio.create_task(collect())
        try:
            await service.start(http)

            async def send(subs: list[ReportSubmitted]) -> dict[str, float]:
                sent_at = time.perf_counter()
                await producer.publish_all(
                    [Outgoing(REPORTS_SUBMITTED, citizen_key(s.oa_id, s.user_id), s) for s in subs]
                )
                return {derived_id("reports-case", s.submission_id): sent_at for s in subs}

            async def wait_acks(cases: dict[str, float], timeout_s: float) -> None:
                async def all_acked() -> bool:
                    return all(c in acked for c in cases)

                with contextlib.suppress(AssertionError):
                    await poll_until(all_acked, "every acknowledgement", timeout_s)

            warm = await send([submission(oa_ids, i) for i in range(WARMUP_CASES)])
            await wait_acks(warm, 60)
            single: list[float] = []
            for i in range(SINGLE_CASES):  # one report at a time: what a citizen waits for at ordinary load
                one = await send([submission(oa_ids, i)])
                await wait_acks(one, 30)
                single.extend((acked[c] - t) * 1000 for c, t in one.items() if c in acked)
            cases = await send([submission(oa_ids, i) for i in range(INTAKE_CASES)])
            first_sent = min(cases.values())
            await wait_acks(cases, INTAKE_TIMEOUT_S)
            done = [c for c in cases if c in acked]
            last = max((acked[c] for c in done), default=first_sent)
            latencies = [(acked[c] - cases[c]) * 1000 for c in done]
            return {
                "intake_cases": float(len(cases)),
                "intake_acknowledged": float(len(done)),
                "intake_rate_cases_per_s": len(done) / max(1e-9, last - first_sent),
                "intake_ack_p50_ms": percentile(latencies, 50),
                "intake_ack_p99_ms": percentile(latencies, 99),
                "single_report_ack_p50_ms": percentile(single, 50),
                "single_report_ack_max_ms": max(single, default=0.0),
            }
        finally:
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)
            service.stop()
            await reader.stop()
            await producer.stop()


def seeded_case(i: int, units: list[str], wards: list[str], start: datetime) -> dict[str, Any]:
    k = i % len(DESCRIPTIONS)
    created = start + timedelta(seconds=i * 300)
    status = random.choices(
        ["received", "acknowledged", "investigating", "resolved", "rejected", "transferred"], [3, 2, 2, 8, 1, 1]
    )[0]
    case_id = f"{i:032x}"
    current = {
        "status": status,
        "unit": random.choice(units),
        "assignee": None,
        "status_reason": None,
        "acknowledged_at": None,
        "closed_at": None,
        "updated_at": created,
    }
    description = DESCRIPTIONS[k].format(n=i)
    return {
        "_id": case_id,
        "submission_id": f"seed-{i}",
        "code": f"TP-25-{i:06d}",
        "oa_id": "4318000000000000001",
        "oa_key": "tanphu",
        "kind": "public_order" if k in (1, 3) else "crime",
        "category": CATEGORIES[k],
        "description": description,
        "description_folded": fold(description),
        "place_text": None,
        "ward": random.choice(wards),
        "source": "form",
        "priority": "urgent" if random.random() < 0.03 else "normal",
        "anonymous": i % 3 == 0,
        "reporter_sealed": "v1:k1:seed:seed",
        "citizen": f"seed-{i % 5000}",
        "attachments": [],
        "created_at": created,
        "version": 1,
        "current": current,
    }


async def measure_list(cfg: StackConfig, prefix: str, workdir: Path) -> dict[str, float]:
    registry = load_registry()
    units = sorted({o.report_unit for o in registry.oas})
    wards = [o.ward for o in registry.oas if o.ward]
    db_name = unique("bench_reports_list")
    mongo = AsyncMongoClient(cfg.mongo_uri, tz_aware=True)
    started = time.perf_counter()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for offset in range(0, LIST_CASES, 5000):
        docs = [seeded_case(i, units, wards, start) for i in range(offset + 1, min(LIST_CASES, offset + 5000) + 1)]
        await mongo[db_name].cases.insert_many(docs, ordered=False)
        summaries = [summary_from_doc(d) for d in docs]  # what intake writes next to each case
        await mongo[db_name].case_summaries.insert_many(
            [{"_id": s.id, "v": s.version, "s": encode_summary(s)} for s in summaries], ordered=False
        )
    seed_s = time.perf_counter() - started
    service = Service(service_env(cfg, prefix, db_name), workdir / "list.log")
    secret = DEV_JWT_SECRET.get_secret_value()
    settings = ReportsSettings(environment="dev")

    def token(role: str, unit: str | None) -> str:
        return mint(
            secret, sub="bench", role=role, unit=unit, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )

    supervisor, officer = token("supervisor", None), token("officer", "hinhsu")
    mid = (start + timedelta(days=120)).isoformat()
    later = (start + timedelta(days=150)).isoformat()
    queries: list[tuple[str, str, dict[str, str]]] = [
        ("newest", supervisor, {}),
        ("urgent_first", supervisor, {"order": "urgent_first"}),
        ("officer_unit", officer, {}),
        ("status_filter", supervisor, {"status": "received,acknowledged", "kind": "crime"}),
        ("text_search", supervisor, {"q": "lừa chuyển khoản facebook"}),
        ("ward_and_dates", supervisor, {"ward": wards[0], "created_from": mid, "created_to": later}),
        ("rare_match", officer, {"status": "rejected", "priority": "urgent"}),
    ]
    latencies: dict[str, list[float]] = {name: [] for name, _, _ in queries}
    server: dict[str, list[float]] = {"app": [], "audit": []}
    try:
        async with aiohttp.ClientSession() as http:
            load_s = await service.start(http, timeout_s=150)
            rss = service.rss_mb()
            for _ in range(LIST_ROUNDS):
                for name, tok, params in queries:
                    headers = {"Authorization": f"Bearer {tok}"}
                    t0 = time.perf_counter()
                    async with http.get(service.base + "/api/v1/cases", params=params, headers=headers) as r:
                        body = await r.read()
                        if r.status != 200:
                            raise RuntimeError(f"list {name}: {r.status} {body[:200]!r}")
                        for part in r.headers.get("Server-Timing", "").split(","):
                            label, _, dur = part.strip().partition(";dur=")
                            if label in server and dur:
                                server[label].append(float(dur))
                    latencies[name].append((time.perf_counter() - t0) * 1000)
                    cursor = json.loads(body).get("next_cursor")
                    if name == "newest" and cursor:
                        t0 = time.perf_counter()
                        async with http.get(
                            service.base + "/api/v1/cases", params={"cursor": cursor}, headers=headers
                        ) as r:
                            await r.read()
                        latencies.setdefault("next_page", []).append((time.perf_counter() - t0) * 1000)
    finally:
        service.stop()
        await mongo.drop_database(db_name)
        await mongo.close()
    every = [v for values in latencies.values() for v in values]
    out = {
        "list_cases_stored": float(LIST_CASES),
        "list_seed_s": seed_s,
        "list_service_ready_s": load_s,
        "list_service_rss_mb": rss,
        "list_requests": float(len(every)),
        "list_p50_ms": percentile(every, 50),
        "list_p99_ms": percentile(every, 99),
        "list_max_ms": max(every),
        "list_target_p99_ms": LIST_TARGET_P99_MS,
        "list_server_app_p99_ms": percentile(server["app"], 99),
        "list_server_audit_write_p99_ms": percentile(server["audit"], 99),
    }
    for name, values in latencies.items():
        out[f"list_{name}_p99_ms"] = percentile(values, 99)
    return out


async def bench() -> dict[str, float]:
    cfg = StackConfig.from_env()
    await asyncio.to_thread(ferretdb.start, cfg)
    await asyncio.to_thread(kafka.start, cfg)
    prefix = unique("bench") + "."
    await ensure_topics(cfg.kafka_bootstrap, prefix)
    workdir = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    results: dict[str, float] = {}
    try:
        results |= await measure_intake(cfg, prefix, workdir)
        results |= await measure_list(cfg, prefix, workdir)
    finally:
        await delete_prefixed(cfg.kafka_bootstrap, prefix)
        mongo = AsyncMongoClient(cfg.mongo_uri)
        for name in await mongo.list_database_names():
            if name.startswith("bench_reports_intake"):
                await mongo.drop_database(name)
        await mongo.close()
    return results


def run() -> dict[str, float]:
    """Run the benchmark; the flat dict of figures (names carry units)."""
    return asyncio.run(bench())


def main() -> None:
    started = time.perf_counter()
    results = run()
    width = max(len(k) for k in results)
    for name, value in results.items():
        print(f"{name:<{width}}  {value:12.1f}")
    print(f"{'bench_duration_s':<{width}}  {time.perf_counter() - started:12.1f}")


if __name__ == "__main__":
    main()
