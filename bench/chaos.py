"""Fault injection under load: `make chaos`, or `python -m bench.chaos [SCENARIO ...]` for a subset.

Method
------
1. Its own infrastructure. The scenarios stop Kafka and FerretDB, so the run starts a broker and a
   FerretDB of its own on free ports, in a run folder of its own (`.run/chaos/<tag>/`, which shares
   only the installed Kafka jars and FerretDB binary), then the whole system on them: the Zalo
   simulator and every service, each its own process, on free ports (tests/system.py). A developer's
   `make run` stack and running test sessions are never touched. Everything it started is stopped and
   its data deleted at the end, also after a failure or Ctrl-C (the logs are kept when a target was
   missed, or with --keep-logs).
2. A steady load, through the simulator only (it signs and delivers webhooks exactly as Zalo does):
   - 5 citizen messages/s (--rate), greetings and procedure questions, on the district and unit
     OAs. Every citizen sends exactly one message, so whatever the OA sends that citizen is the
     answer to it: replies are attributed without looking inside any service;
   - report journeys (the steps of the e2e test, `#baotin` … `gửi`), four at a time, each by a new
     citizen on a ward OA, every step waiting for its answer;
   - one campaign per scenario (an editor drafts, a supervisor approves) for the followers of one
     ward OA, created at start-up and active (they followed minutes ago). The news service is paced
     (NEWS_MAX_CAMPAIGN_SENDS_PER_S) so that the campaign is still sending while the fault is on.
3. Each scenario: load for a few seconds, approve the campaign, inject the fault, keep the load
   running, heal, wait until every service is ready again, load a few more seconds, stop the load,
   then wait until the system is quiet (bounded): no webhook retry pending, every citizen answered,
   every submitted report has its case, the campaign finished, no new message for a few seconds,
   the topic reader caught up. What is
   still missing then counts as lost (and every service is restarted, so that the next scenario
   starts from a working system).
4. Measurement, when the scenario has settled; duplicates are counted again at the end of the run
   (a late duplicate still counts against the scenario that caused it). The simulator is the ground
   truth of what citizens saw; the Kafka topics (read from the start with aiokafka) tell what the
   system recorded:
   - webhooks: deliveries of the scenario (citizen events and echoes) the gateway answered 200,
     against all of them; `lost ev`: accepted webhooks whose body is not on zalo.events.v1;
   - replies: citizens' messages answered (one-message citizens with at least one reply, report
     steps whose reply came), against messages sent; `p95 s`: the one-message citizens' wait for
     their first reply (information); `dup`: identical messages to one citizen;
   - cases: report journeys that reached `gửi` with a case created (reports.lifecycle.v1 `created`
     for the case id of the citizen's submission), against those journeys;
   - broadcast: followers of the campaign's OA (and the OA's article broadcast) that got the
     campaign twice or never, counted at the simulator (not on a topic, whatever topic carries it);
   - dlq: records added to every `*.dlq` topic;
   - ready: seconds from healing until every service answered /readyz 200 (`*`: the run had to
     restart a process that did not survive on its own).

Targets: nothing lost, no duplicate citizen-visible message, no dead letter, every service ready
again on its own. The exit status is 1 when a scenario misses one (or fails to run).

Time is compressed where the real world is slow: Zalo's webhook retry ladder runs at 1/100
(0.3 s … 36 s instead of 30 s … 1 h) and the news service retries failed direct messages after 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.figures import print_figures
from contracts.topics import REPORTS_LIFECYCLE, REPORTS_SUBMITTED, ZALO_EVENTS
from devstack import ferretdb, kafka, procs, stack
from devstack.paths import REPO_ROOT, StackConfig
from servicekit.registry import load_registry
from servicekit.testing import free_port, poll_until, unique
from services.reports.handlers import case_id_for
from tests.system import (
    System,
    fraud_warning_campaign,
    isolated_layout,
    newsroom_token,
    start_system,
    stop_system,
)

RATE_PER_S = 5.0  # citizen messages per second (two cores run everything, FerretDB first: moderate on purpose)
LEAD_S = 4.0  # load before the campaign and the fault
TAIL_S = 5.0  # load after every service is ready again
READY_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 150.0  # > the egress's claim lease (90 s) that a killed egress leaves behind
QUIET_S = 4.0
STEP_TIMEOUT_S = 60.0
REPORTERS = 4  # report journeys in parallel (each waits for every answer before its next step)
JOURNEYS_GRACE_S = 90.0  # how long the reports in progress may take to finish once the load stops
FOLLOWERS_PER_OA = 24
KAFKA_DOWN_S = 15.0
FERRETDB_DOWN_S = 20.0
ZALO_FAULT_S = 10.0
# Longer than everything the egress tries for one command (EGRESS_SEND_MAX_ATTEMPTS with backoff, ~15 s):
# the replies it gives up on must be sent again by their owners (intent, reports), not lost.
ZALO_OUTAGE_S = 45.0
ZALO_LATENCY_S = 1.5
KILLED_FOR_S = 2.0

LOAD_OAS = ("tanphu", "hinhsu", "kinhte", "csgt", "pccc", "qlhc", "anninh")
REPORT_OAS = ("tansonnhi", "taythanh")
CAMPAIGN_OAS = ("phutrung", "hoathanh")
LOAD_TEXTS = (
    "xin chào",
    "dang ky tam tru can nhung giay to gi vay",
    "chào anh, cho em hỏi làm căn cước công dân cần gì",
    "thủ tục đăng ký thường trú như thế nào",
    "cho hỏi đăng ký xe máy ở đâu",
    "alo",
)
REPORT_STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("text", {"text": "#baotin"}),
    ("text", {"text": "tố giác tội phạm"}),
    ("text", {"text": "Xe máy Honda Vision của tôi bị trộm trước nhà"}),
    ("text", {"text": "khoảng 22 giờ tối qua"}),
    ("location", {"latitude": 10.7989, "longitude": 106.6262, "name": "Hẻm 25 Lũy Bán Bích"}),
    ("text", {"text": "xong"}),
    ("text", {"text": "ẩn danh"}),
    ("text", {"text": "gửi"}),
)
CHAOS_ENV = {
    "ZALOSIM_RETRY_TIME_SCALE": "0.01",
    "NEWS_MAX_CAMPAIGN_SENDS_PER_S": "3",
    "NEWS_DM_RETRY_DELAY_S": "10",
}
SERVICES = [n for n in stack.MODULES if n != "zalosim" and stack.available(n)]


# -- own infrastructure ----------------------------------------------------------------------


def own_config(tag: str) -> StackConfig:
    """A run folder and ports of our own; the installed jars and FerretDB binary are shared (linked)."""
    shared = StackConfig.from_env()
    ferretdb.install(shared)
    cfg = replace(kafka.private_config(tag, "chaos", shared.kafka_heap), ferretdb_port=free_port())
    cfg.bin.symlink_to(shared.bin)
    return cfg


def chaos_layout() -> stack.Layout:
    """Free ports and the e2e settings; plain names, since broker, database and run folder are ours."""
    base = isolated_layout()
    return replace(base, topic_prefix="", db_suffix="", process_prefix="", extra_env=base.extra_env | CHAOS_ENV)


def remove_own_infra(cfg: StackConfig, keep_logs: bool) -> None:
    """Stop our broker and FerretDB, delete their data; the logs stay when they are worth reading."""
    kafka.stop(cfg)
    ferretdb.stop(cfg)
    if not keep_logs:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
        return
    for name in ("kafka", "ferretdb", "spool", "bin"):
        path = cfg.run_dir / name
        if path.is_symlink():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)


# -- what citizens saw: the simulator's journals ---------------------------------------------


class Citizens:
    """Fresh Zalo user ids, unique to this run."""

    def __init__(self) -> None:
        self._ids = itertools.count(7_000_000_000_000_000_000 + random.randrange(10**9) * 10**6)

    def new(self) -> str:
        return str(next(self._ids))


def message_key(m: dict[str, Any]) -> str:
    """What a citizen sees of one message: two equal keys to one citizen are a duplicate."""
    return json.dumps({k: m.get(k) for k in ("type", "text", "buttons", "image_url", "elements")}, sort_keys=True)


def raw_key(raw: dict[str, Any]) -> str:
    return json.dumps(raw, sort_keys=True, ensure_ascii=False)


async def journal(system: System, name: str, since: int) -> list[dict[str, Any]]:
    """Every record of one simulator journal after sequence number `since`."""
    items: list[dict[str, Any]] = []
    while True:
        page = await system.sim("GET", f"/_sim/{name}?since={since}&limit=5000")
        items += page["items"]
        if len(page["items"]) < 5000:
            return items
        since = page["next_since"]


class Inbox:
    """Every message the OAs sent, pulled from the simulator as it happens (messages never change)."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.since = 0
        self.by_citizen: dict[tuple[str, str], list[dict[str, Any]]] = {}

    async def pull(self) -> None:
        for m in await journal(self.system, "messages", self.since):
            self.by_citizen.setdefault((m["oa_key"], m["user_id"]), []).append(m)
            self.since = max(self.since, m["seq"])

    async def run(self) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.pull()
            await asyncio.sleep(0.3)

    def of(self, oa: str, user: str) -> list[dict[str, Any]]:
        return self.by_citizen.get((oa, user), [])


# -- what the system recorded: the topics ----------------------------------------------------


class TopicLog:
    """Reads zalo.events, reports.submitted and reports.lifecycle from the start; counts dead letters."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap, self.prefix = bootstrap, prefix
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=2000)
        self.events: Counter[str] = Counter()  # raw webhook body → records on zalo.events.v1
        self.submissions: dict[str, set[str]] = {}  # citizen → submission ids on reports.submitted.v1
        self.created: set[str] = set()  # case ids with a `created` record on reports.lifecycle.v1
        self.read: list[TopicPartition] = []
        self.dlq: list[TopicPartition] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            described = await admin.describe_topics(names)
        finally:
            await admin.close()
        partitions = {d["topic"]: sorted(p["partition"] for p in d["partitions"]) for d in described}
        wanted = {self.prefix + t for t in (ZALO_EVENTS, REPORTS_SUBMITTED, REPORTS_LIFECYCLE)}
        self.read = [TopicPartition(t, p) for t in sorted(wanted) for p in partitions[t]]
        self.dlq = [TopicPartition(t, p) for t in sorted(partitions) if t.endswith(".dlq") for p in partitions[t]]
        self.consumer.assign(self.read)
        await self.consumer.seek_to_beginning(*self.read)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()

    async def _run(self) -> None:
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=500)
            except Exception:  # the broker is away (a scenario): aiokafka reconnects by itself
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                for record in records:
                    self._take(tp.topic.removeprefix(self.prefix), json.loads(record.value))

    def _take(self, topic: str, value: dict[str, Any]) -> None:
        if topic == ZALO_EVENTS:
            self.events[raw_key(value["raw"])] += 1
        elif topic == REPORTS_SUBMITTED:
            self.submissions.setdefault(value["user_id"], set()).add(value["submission_id"])
        elif value["change"] == "created":
            self.created.add(value["case_id"])

    async def caught_up(self) -> bool:
        try:
            ends = await asyncio.wait_for(self.consumer.end_offsets(self.read), 5.0)
            positions = [await self.consumer.position(tp) for tp in ends]
        except Exception:
            return False
        return all(p >= end for p, end in zip(positions, ends.values(), strict=True))

    async def dead_letters(self) -> int:
        """Records on every dead-letter topic (-1 when the broker did not answer three times)."""
        for _ in range(3):
            try:
                return sum((await asyncio.wait_for(self.consumer.end_offsets(self.dlq), 10.0)).values())
            except Exception:
                await asyncio.sleep(1.0)
        return -1

    def has_case(self, user: str) -> bool:
        """The citizen's submission reached the topic and the reports service created its case."""
        return any(case_id_for(s) in self.created for s in self.submissions.get(user, ()))


# -- the harness -----------------------------------------------------------------------------


@dataclass
class Campaign:
    id: str
    oa: str
    link: str


@dataclass
class Journey:
    """One citizen's report, step by step; `needed` messages answer the last step sent."""

    oa: str
    user: str
    steps: int = 0
    needed: int = 0
    submitted: bool = False


@dataclass
class Phase:
    """One scenario as it ran: who did what, and where it starts in the journals."""

    name: str
    start_seq: int
    start_dlq: int
    texters: list[tuple[str, str]] = field(default_factory=list)
    sent_ms: dict[tuple[str, str], float] = field(default_factory=dict)  # when each texter wrote (epoch ms)
    journeys: list[Journey] = field(default_factory=list)
    campaign: Campaign | None = None
    unsent: int = 0  # load messages the simulator itself refused (a harness problem, not counted)
    ready_s: float | None = None
    restarted: list[str] = field(default_factory=list)
    settled: bool = False
    waiting: list[str] = field(default_factory=list)  # what was still in flight when settling gave up
    error: str | None = None


@dataclass
class Chaos:
    cfg: StackConfig
    system: System
    inbox: Inbox
    topics: TopicLog
    citizens: Citizens = field(default_factory=Citizens)
    followers: dict[str, list[str]] = field(default_factory=dict)
    rate: float = RATE_PER_S

    @property
    def layout(self) -> stack.Layout:
        return self.system.layout

    async def last_seq(self) -> int:
        return int((await self.system.sim("GET", "/_sim/health"))["last_seq"])

    def alive(self, name: str) -> bool:
        return procs.running_pid(self.cfg, self.layout.process(name)) is not None

    def start(self, name: str) -> None:
        """Start a service again as its orchestrator would: same environment (OA tokens are in MongoDB)."""
        env = stack.service_env(self.cfg, self.layout, name)
        argv = [sys.executable, "-m", stack.MODULES[name]]
        procs.start(self.cfg, self.layout.process(name), argv, env=env, cwd=REPO_ROOT)

    async def kill9(self, name: str) -> None:
        await asyncio.to_thread(procs.stop, self.cfg, self.layout.process(name), 10.0, signal.SIGKILL)

    async def ready(self, name: str) -> bool:
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with self.system.http.get(self.system.url(name) + "/readyz", timeout=timeout) as r:
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def news(self, method: str, path: str, role: str, body: Any = None) -> Any:
        token = newsroom_token(role, f"chaos-{role}")
        url = self.system.url("news") + "/api/v1" + path
        async with self.system.http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
            r.raise_for_status()
            return await r.json()


# -- load --------------------------------------------------------------------------------------


async def steady_load(ch: Chaos, phase: Phase, stop: asyncio.Event) -> None:
    """Open loop: one new citizen, one message, every 1/rate seconds, whatever the system does."""
    texts, oas = itertools.cycle(LOAD_TEXTS), itertools.cycle(LOAD_OAS)
    in_flight: set[asyncio.Task[None]] = set()
    limit = asyncio.Semaphore(64)
    due = time.monotonic()
    while not stop.is_set():
        task = asyncio.create_task(_say_once(ch, phase, next(oas), ch.citizens.new(), next(texts), limit))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        due += 1.0 / ch.rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    await asyncio.gather(*in_flight)


async def _say_once(ch: Chaos, phase: Phase, oa: str, user: str, text: str, limit: asyncio.Semaphore) -> None:
    async with limit:
        phase.sent_ms[(oa, user)] = time.time() * 1000  # the simulator's clock is the wall clock (never advanced)
        try:
            await ch.system.citizen(oa, user, "text", text=text)
        except (aiohttp.ClientError, TimeoutError):
            phase.unsent += 1
            return
    phase.texters.append((oa, user))


async def report_journeys(ch: Chaos, phase: Phase, stop: asyncio.Event, reporter: int) -> None:
    """Reports one after the other, each by a new citizen, until the load stops (the last one is finished)."""
    while not stop.is_set():
        journey = Journey(REPORT_OAS[reporter % len(REPORT_OAS)], ch.citizens.new())
        phase.journeys.append(journey)
        await _report(ch, journey)


async def _report(ch: Chaos, j: Journey) -> None:
    for action, body in REPORT_STEPS:
        seen = len(ch.inbox.of(j.oa, j.user))
        try:
            await ch.system.citizen(j.oa, j.user, action, **body)
        except (aiohttp.ClientError, TimeoutError):
            return
        j.steps, j.needed = j.steps + 1, seen + 1
        j.submitted = j.steps == len(REPORT_STEPS)
        if not await _answered(ch, j):
            return  # stalled: the measurement tells whether the answer came late or never


async def _answered(ch: Chaos, j: Journey) -> bool:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while len(ch.inbox.of(j.oa, j.user)) < j.needed:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def make_followers(ch: Chaos) -> None:
    """Followers of the campaign OAs: followed, welcomed, and known to the news service as reachable."""
    limit = asyncio.Semaphore(8)

    async def follow(oa: str, user: str) -> None:
        async with limit:
            await ch.system.citizen(oa, user, "follow")

    for oa in CAMPAIGN_OAS:
        users = [ch.citizens.new() for _ in range(FOLLOWERS_PER_OA)]
        await asyncio.gather(*(follow(oa, u) for u in users))
        ch.followers[oa] = users

    async def welcomed() -> bool:
        return all(ch.inbox.of(oa, u) for oa, users in ch.followers.items() for u in users)

    await poll_until(welcomed, "every follower's welcome", 120, 0.5)
    for oa in CAMPAIGN_OAS:

        async def reachable(oa: str = oa) -> bool:
            body = {"target": {"wards": [ward_of(oa)]}, "channels": {"direct": True}}
            return (await ch.news("POST", "/preview", "editor", body))["reachable_directly"] >= FOLLOWERS_PER_OA

        await poll_until(reachable, f"the followers of {oa} in the news registry", 60, 0.5)


def ward_of(oa_key: str) -> str:
    oa = load_registry().by_key(oa_key)
    assert oa is not None and oa.ward
    return oa.ward


async def launch_campaign(ch: Chaos, oa: str) -> Campaign:
    tag = unique("")[:8]
    link = f"https://congan.example.vn/tin/chaos-{tag}"
    body = fraud_warning_campaign(tag, link, {"wards": [ward_of(oa)]})
    created = await ch.news("POST", "/campaigns", "editor", body)
    await ch.news("POST", f"/campaigns/{created['id']}/approve", "supervisor")
    return Campaign(created["id"], oa, link)


async def campaign_finished(ch: Chaos, campaign: Campaign | None) -> bool:
    if campaign is None:
        return True
    try:
        return (await ch.news("GET", f"/campaigns/{campaign.id}", "supervisor"))["state"] == "finished"
    except (aiohttp.ClientError, TimeoutError):
        return False


# -- scenarios ---------------------------------------------------------------------------------


Inject = Callable[[Chaos], Awaitable[None]]


def kill_and_restart(name: str) -> Inject:
    async def inject(ch: Chaos) -> None:
        await ch.kill9(name)
        await asyncio.sleep(KILLED_FOR_S)
        ch.start(name)

    return inject


async def kafka_outage(ch: Chaos) -> None:
    await asyncio.to_thread(kafka.stop, ch.cfg)
    await asyncio.sleep(KAFKA_DOWN_S)
    await asyncio.to_thread(kafka.start, ch.cfg)


async def ferretdb_outage(ch: Chaos) -> None:
    await asyncio.to_thread(ferretdb.stop, ch.cfg)
    await asyncio.sleep(FERRETDB_DOWN_S)
    await asyncio.to_thread(ferretdb.start, ch.cfg)


def zalo_fault(fault: dict[str, Any], seconds: float = ZALO_FAULT_S) -> Inject:
    """A fault on the whole Zalo surface (OpenAPI and OAuth) for `seconds`."""

    async def inject(ch: Chaos) -> None:
        await ch.system.sim("POST", "/_sim/faults", fault | {"duration_seconds": seconds})
        await asyncio.sleep(seconds)
        await ch.system.sim("DELETE", "/_sim/faults")

    return inject


async def no_fault(_: Chaos) -> None:
    await asyncio.sleep(ZALO_FAULT_S)


SERVICE_SHORT = {"gateway-ingress": "ingress", "gateway-egress": "egress"}
SCENARIOS: dict[str, tuple[str, Inject]] = {
    "baseline": ("no fault: the measurement itself must show nothing", no_fault),
    **{
        f"kill-{SERVICE_SHORT.get(n, n)}": (
            f"kill -9 {n}, start it again {KILLED_FOR_S:g} s later",
            kill_and_restart(n),
        )
        for n in SERVICES
    },
    "ferretdb": (f"stop FerretDB for {FERRETDB_DOWN_S:g} s", ferretdb_outage),
    "zalo-5xx": (f"Zalo answers HTTP 503 for {ZALO_FAULT_S:g} s", zalo_fault({"kind": "http_error", "status": 503})),
    "zalo-outage": (
        f"Zalo answers HTTP 503 for {ZALO_OUTAGE_S:g} s, longer than the egress tries one command",
        zalo_fault({"kind": "http_error", "status": 503}, ZALO_OUTAGE_S),
    ),
    "zalo-rate-limit": (
        f"Zalo answers -32 (rate limit) for {ZALO_FAULT_S:g} s",
        zalo_fault({"kind": "zalo_error", "code": -32}),
    ),
    "zalo-slow": (
        f"Zalo answers {ZALO_LATENCY_S:g} s late for {ZALO_FAULT_S:g} s",
        zalo_fault({"kind": "latency", "seconds": ZALO_LATENCY_S}),
    ),
    "kafka": (f"stop the Kafka broker, start it again {KAFKA_DOWN_S:g} s later", kafka_outage),
}  # the broker outage last: the most disruptive one
OPTIONAL = {"kill-console"}  # not on the citizens' path; run it by name
DEFAULT_SCENARIOS = [name for name in SCENARIOS if name not in OPTIONAL]


async def run_phase(ch: Chaos, phase: Phase, campaign_oa: str) -> Row:
    """Load, campaign, fault, heal, recovery, more load, quiet; then the scenario's row."""
    stop = asyncio.Event()
    load = [
        asyncio.create_task(steady_load(ch, phase, stop)),
        *(asyncio.create_task(report_journeys(ch, phase, stop, i)) for i in range(REPORTERS)),
    ]
    try:
        await asyncio.sleep(LEAD_S)
        phase.campaign = await launch_campaign(ch, campaign_oa)
        await asyncio.sleep(1.0)
        await SCENARIOS[phase.name][1](ch)
        phase.ready_s, phase.restarted = await recovery(ch)
        await asyncio.sleep(TAIL_S)
    except Exception as exc:
        phase.error = f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        await asyncio.gather(load[0], return_exceptions=True)
        _, unfinished = await asyncio.wait(load[1:], timeout=JOURNEYS_GRACE_S)
        for task in unfinished:  # a report still waiting: abandoned where it stands (its last step is measured)
            task.cancel()
        await asyncio.gather(*load[1:], return_exceptions=True)
    phase.settled = await settle(ch, phase)
    phase.restarted += [name for name in SERVICES if not ch.alive(name)]
    return await measure_now(ch, phase)


async def recovery(ch: Chaos) -> tuple[float | None, list[str]]:
    """Seconds until every service is ready; a process that died is started again and named."""
    started = time.monotonic()
    restarted: list[str] = []
    while time.monotonic() - started < READY_TIMEOUT_S:
        for name in SERVICES:
            if not ch.alive(name):
                ch.start(name)
                restarted.append(name)
        if all(await asyncio.gather(*(ch.ready(n) for n in SERVICES))):
            return round(time.monotonic() - started, 1), restarted
        await asyncio.sleep(0.5)
    return None, restarted


async def settle(ch: Chaos, phase: Phase) -> bool:
    """Wait (bounded) until nothing is in flight any more; True if it got there, else `phase.waiting` says why."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last_total, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            stats = await ch.system.sim("GET", "/_sim/stats")
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.sleep(1.0)
            continue
        if stats["totals"]["messages"] != last_total:
            last_total, quiet_since = stats["totals"]["messages"], time.monotonic()
        unanswered = sum(1 for oa, user in phase.texters if not ch.inbox.of(oa, user))
        without_case = sum(1 for j in phase.journeys if j.submitted and not ch.topics.has_case(j.user))
        conditions = {
            "webhook retries pending": stats["pending_webhook_retries"] == 0,
            "messages still coming": time.monotonic() - quiet_since >= QUIET_S,
            f"{unanswered} citizens unanswered": unanswered == 0,
            f"{without_case} reports without a case": without_case == 0,
            "campaign not finished": await campaign_finished(ch, phase.campaign),
            "topic reader behind": await ch.topics.caught_up(),
        }
        phase.waiting = [what for what, done in conditions.items() if not done]
        if not phase.waiting:
            return True
        await asyncio.sleep(1.0)
    return False


async def restore(ch: Chaos, phase: Phase) -> None:
    """Undo what the scenario left behind, so that the next one starts from a working system: faults,
    stopped infrastructure, dead processes, and services that never settled (started afresh)."""
    with contextlib.suppress(Exception):
        await ch.system.sim("DELETE", "/_sim/faults")
    if procs.running_pid(ch.cfg, ferretdb.NAME) is None:
        await asyncio.to_thread(ferretdb.start, ch.cfg)
    if procs.running_pid(ch.cfg, kafka.NAME) is None:
        await asyncio.to_thread(kafka.start, ch.cfg)
    if not phase.settled:
        print("  restarting every service so that the next scenario starts clean", flush=True)
        await asyncio.gather(*(asyncio.to_thread(procs.stop, ch.cfg, ch.layout.process(n)) for n in SERVICES))
        for name in SERVICES:
            ch.start(name)
    ready_s, _ = await recovery(ch)
    if ready_s is None:
        raise RuntimeError(f"the system did not recover after {phase.name}")
    if not phase.settled:
        await settle(ch, phase)  # what was stuck drains now, not in the next scenario's figures


# -- measurement -------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    webhooks_sent: int = 0
    webhooks_accepted: int = 0
    events_lost: int = 0
    replies_expected: int = 0
    replies_got: int = 0
    reply_p95_s: float | None = None
    duplicate_replies: int = 0
    reports_submitted: int = 0
    submissions_on_topic: int = 0
    cases_created: int = 0
    broadcast_twice: int = 0
    broadcast_missed: int = 0
    dead_letters: int = 0
    ready_s: float | None = None
    restarted: list[str] = field(default_factory=list)
    settled: bool = True
    error: str | None = None

    def misses(self) -> list[str]:
        checks = {
            "webhooks not accepted": self.webhooks_accepted < self.webhooks_sent,
            "events lost": self.events_lost > 0,
            "replies lost": self.replies_got < self.replies_expected,
            "duplicate replies": self.duplicate_replies > 0,
            f"cases lost ({self.reports_submitted - self.submissions_on_topic} never on reports.submitted)": (
                self.cases_created < self.reports_submitted
            ),
            "broadcast duplicates": self.broadcast_twice > 0,
            "broadcast missed": self.broadcast_missed > 0,
            "dead letters": self.dead_letters > 0,
            "dead letters not counted (broker did not answer)": self.dead_letters < 0,
            "not ready again": self.ready_s is None,
            "a process did not survive": bool(self.restarted),
            "did not settle": not self.settled,
            f"error: {self.error}": self.error is not None,
        }
        return [what for what, missed in checks.items() if missed]


@dataclass
class World:
    """What a measurement reads: the simulator's journals since the scenario began, and the topics."""

    deliveries: list[dict[str, Any]]
    broadcasts: list[dict[str, Any]]
    inbox: Inbox
    topics: TopicLog
    followers: dict[str, list[str]]


def measure(phase: Phase, end_dlq: int, world: World) -> Row:
    row = Row(phase.name, ready_s=phase.ready_s, restarted=phase.restarted, settled=phase.settled, error=phase.error)
    count_webhooks(row, [d for d in world.deliveries if d["seq"] > phase.start_seq], world.topics)
    count_replies(row, phase, world.inbox)
    count_cases(row, phase, world.topics)
    if phase.campaign is not None:
        count_broadcast(row, phase.campaign, world)
    row.dead_letters = end_dlq - phase.start_dlq if min(end_dlq, phase.start_dlq) >= 0 else -1
    return row


def count_webhooks(row: Row, deliveries: list[dict[str, Any]], topics: TopicLog) -> None:
    accepted = [d for d in deliveries if d["status"] == "delivered"]
    row.webhooks_sent, row.webhooks_accepted = len(deliveries), len(accepted)
    row.events_lost = sum(1 for d in accepted if raw_key(json.loads(d["body"])) not in topics.events)


def duplicates(messages: list[dict[str, Any]]) -> int:
    return sum(n - 1 for n in Counter(message_key(m) for m in messages).values())


def count_replies(row: Row, phase: Phase, inbox: Inbox) -> None:
    row.replies_expected = len(phase.texters) + sum(j.steps for j in phase.journeys)
    answered = sum(1 for oa, user in phase.texters if inbox.of(oa, user))
    unanswered_steps = sum(1 for j in phase.journeys if j.steps and len(inbox.of(j.oa, j.user)) < j.needed)
    row.replies_got = answered + sum(j.steps for j in phase.journeys) - unanswered_steps
    waits = sorted(
        (inbox.of(oa, user)[0]["sent_time_ms"] - phase.sent_ms[(oa, user)]) / 1000
        for oa, user in phase.texters
        if inbox.of(oa, user)
    )
    row.reply_p95_s = round(waits[int(0.95 * (len(waits) - 1))], 1) if waits else None
    citizens = [*phase.texters, *((j.oa, j.user) for j in phase.journeys)]
    row.duplicate_replies = sum(duplicates(inbox.of(oa, user)) for oa, user in citizens)


def count_cases(row: Row, phase: Phase, topics: TopicLog) -> None:
    submitted = [j for j in phase.journeys if j.submitted]
    row.reports_submitted = len(submitted)
    row.submissions_on_topic = sum(1 for j in submitted if topics.submissions.get(j.user))
    row.cases_created = sum(1 for j in submitted if topics.has_case(j.user))


def count_broadcast(row: Row, c: Campaign, world: World) -> None:
    for user in world.followers[c.oa]:
        got = sum(1 for m in world.inbox.of(c.oa, user) if c.link in json.dumps(m, ensure_ascii=False))
        row.broadcast_twice += got > 1
        row.broadcast_missed += got == 0
    tag = c.link.rsplit("-", 1)[-1]
    articles = sum(1 for b in world.broadcasts if b["oa_key"] == c.oa and any(tag in t for t in b["titles"]))
    row.broadcast_twice += articles > 1
    row.broadcast_missed += articles == 0


async def world_since(ch: Chaos, seq: int) -> World:
    with contextlib.suppress(AssertionError):
        await poll_until(ch.topics.caught_up, "the topic reader", 30, 0.5)
    await ch.inbox.pull()
    return World(
        deliveries=await journal(ch.system, "deliveries", seq),
        broadcasts=await journal(ch.system, "broadcasts", seq),
        inbox=ch.inbox,
        topics=ch.topics,
        followers=ch.followers,
    )


async def measure_now(ch: Chaos, phase: Phase) -> Row:
    """The scenario's row once it settled (or gave up): what was lost then stays lost."""
    return measure(phase, await ch.topics.dead_letters(), await world_since(ch, phase.start_seq))


def add_late_duplicates(row: Row, phase: Phase, world: World) -> None:
    """A duplicate that arrived after the scenario's row was taken still counts against it."""
    late = Row(row.name)
    count_replies(late, phase, world.inbox)
    if phase.campaign is not None:
        count_broadcast(late, phase.campaign, world)
    row.duplicate_replies = max(row.duplicate_replies, late.duplicate_replies)
    row.broadcast_twice = max(row.broadcast_twice, late.broadcast_twice)


# -- output ------------------------------------------------------------------------------------


COLUMNS = (
    ("scenario", 16),
    ("webhooks", 11),
    ("lost ev", 7),
    ("replies", 11),
    ("p95 s", 6),
    ("dup", 4),
    ("cases", 7),
    ("bc 2x", 5),
    ("bc miss", 7),
    ("dlq", 4),
    ("ready s", 7),
)


def table(rows: Sequence[Row], header: bool = True) -> str:
    """Fixed-width rows, one per scenario; `result` lists the targets it missed."""
    titles = "  ".join(f"{t:<{w}}" if i == 0 else f"{t:>{w}}" for i, (t, w) in enumerate(COLUMNS)) + "  result"
    lines = [titles, "-" * len(titles)] if header else []
    for r in rows:
        ready = "-" if r.ready_s is None else f"{r.ready_s:.1f}" + ("*" if r.restarted else "")
        cells = (
            r.name,
            f"{r.webhooks_accepted}/{r.webhooks_sent}",
            r.events_lost,
            f"{r.replies_got}/{r.replies_expected}",
            "-" if r.reply_p95_s is None else f"{r.reply_p95_s:.1f}",
            r.duplicate_replies,
            f"{r.cases_created}/{r.reports_submitted}",
            r.broadcast_twice,
            r.broadcast_missed,
            r.dead_letters,
            ready,
        )
        text = "  ".join(
            f"{c:<{w}}" if i == 0 else f"{c!s:>{w}}" for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
        )
        lines.append(f"{text}  {'; '.join(r.misses()) or 'ok'}")
    return "\n".join(lines)


def figures(rows: Sequence[Row], seconds: float) -> dict[str, float]:
    """Flat figures for aggregation (units in the names)."""

    def total(fn: Callable[[Row], int]) -> float:
        return float(sum(fn(r) for r in rows))

    out = {
        "chaos_scenarios": float(len(rows)),
        "chaos_scenarios_missed": total(lambda r: bool(r.misses())),
        "chaos_webhooks_not_accepted": total(lambda r: r.webhooks_sent - r.webhooks_accepted),
        "chaos_lost_events": total(lambda r: r.events_lost),
        "chaos_lost_replies": total(lambda r: r.replies_expected - r.replies_got),
        "chaos_duplicate_replies": total(lambda r: r.duplicate_replies),
        "chaos_lost_cases": total(lambda r: r.reports_submitted - r.cases_created),
        "chaos_broadcast_duplicates": total(lambda r: r.broadcast_twice),
        "chaos_broadcast_missed": total(lambda r: r.broadcast_missed),
        "chaos_dlq_records": total(lambda r: max(r.dead_letters, 0)),
        "chaos_processes_restarted": total(lambda r: len(r.restarted)),
        "chaos_max_ready_s": max((r.ready_s for r in rows if r.ready_s is not None), default=-1.0),
        "chaos_s": round(seconds, 1),
    }
    out |= {f"chaos_{r.name.replace('-', '_')}_ready_s": -1.0 if r.ready_s is None else r.ready_s for r in rows}
    return out


# -- entry points ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    scenarios: Sequence[str] = tuple(DEFAULT_SCENARIOS)
    rate: float = RATE_PER_S
    keep_logs: bool = False


def missed(opts: Options, rows: Sequence[Row]) -> bool:
    return len(rows) < len(opts.scenarios) or any(r.misses() for r in rows)


async def chaos(opts: Options, rows: list[Row]) -> dict[str, float]:
    """Own infrastructure, the system, the scenarios; `rows` fills as they complete (kept when interrupted)."""
    started = time.monotonic()
    cfg = await asyncio.to_thread(own_config, unique("chaos-"))
    layout = chaos_layout()
    print(f"chaos: own Kafka {cfg.kafka_bootstrap}, FerretDB {cfg.mongo_uri}, run folder {cfg.run_dir}", flush=True)
    try:
        await asyncio.to_thread(ferretdb.start, cfg)
        await asyncio.to_thread(kafka.start, cfg)
        await start_system(cfg, layout)
        async with aiohttp.ClientSession() as http:
            system = System(cfg, layout, http)
            topics = TopicLog(cfg.kafka_bootstrap, layout.topic_prefix)
            await _scenarios(Chaos(cfg, system, Inbox(system), topics, rate=opts.rate), opts.scenarios, rows)
    finally:
        keep = opts.keep_logs or missed(opts, rows)
        await stop_system(cfg, layout)
        await asyncio.to_thread(remove_own_infra, cfg, keep)
        if keep:
            print(f"chaos: logs kept in {cfg.logs}", flush=True)
    return figures(rows, time.monotonic() - started)


async def _scenarios(ch: Chaos, names: Sequence[str], rows: list[Row]) -> None:
    inbox = asyncio.create_task(ch.inbox.run())
    try:
        await ch.topics.start()
        first_seq = await ch.last_seq()
        await make_followers(ch)
        phases: list[Phase] = []
        print(table([]), flush=True)
        for i, name in enumerate(names):
            phase = Phase(name, await ch.last_seq(), await ch.topics.dead_letters())
            phases.append(phase)
            rows.append(await run_phase(ch, phase, CAMPAIGN_OAS[i % len(CAMPAIGN_OAS)]))
            print(table(rows[-1:], header=False), flush=True)
            if phase.unsent:
                print(f"  ({phase.unsent} load messages refused by the simulator itself: not counted)", flush=True)
            if phase.waiting:
                print(f"  (still in flight when the wait ended: {', '.join(phase.waiting)})", flush=True)
            try:
                await restore(ch, phase)
            except RuntimeError as exc:
                print(f"chaos: {exc}; the remaining scenarios cannot run", flush=True)
                break
        world = await world_since(ch, first_seq)
        for phase, row in zip(phases, rows, strict=True):
            add_late_duplicates(row, phase, world)
    finally:
        inbox.cancel()
        await asyncio.gather(inbox, return_exceptions=True)
        await ch.topics.stop()


def run(opts: Options | None = None) -> dict[str, float]:
    """Run the scenarios; the flat dict of figures (not part of `make bench`)."""
    return asyncio.run(chaos(opts or Options(), []))


async def _main(opts: Options, rows: list[Row]) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean up as on Ctrl-C
    results = await chaos(opts, rows)
    print()
    print(table(rows))
    print_figures(results)
    return 1 if missed(opts, rows) else 0


def main(argv: Sequence[str] | None = None) -> int:
    epilog = (
        "scenarios (default: all but "
        + ", ".join(sorted(OPTIONAL))
        + "):\n"
        + "\n".join(f"  {name:<16} {what}" for name, (what, _) in SCENARIOS.items())
    )
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description="Fault injection under load on a system of its own; prints one row per scenario.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenarios to run, in this order")
    parser.add_argument("--rate", type=float, default=RATE_PER_S, help="citizen messages per second")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs even if every target is met")
    args = parser.parse_args(argv)
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; see --help")
    opts = Options(tuple(args.scenarios or DEFAULT_SCENARIOS), args.rate, args.keep_logs)
    rows: list[Row] = []
    try:
        return asyncio.run(_main(opts, rows))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"\nchaos: interrupted; scenarios completed:\n{table(rows)}")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
