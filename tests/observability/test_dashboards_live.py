"""Proof that the dashboards and alert rules work against the real services.

Starts a real Prometheus (Debian's binary, deploy/observability/install-tools.sh) on a free loopback
port, scraping the test session's isolated stack (the `system` fixture: every service its own process)
each second with the job names the ServiceMonitors give in Kubernetes, and loading
deploy/observability/alerts.yaml. Drives traffic through the Zalo simulator (citizens' messages, one
Zalo error, one malformed record for the dead-letter path), waits for the scrapes, then runs every
panel expression and every alert expression through Prometheus's
HTTP API:

- any query error fails;
- a panel whose query matches no series fails, unless each metric it reads is declared by a service
  (in its /metrics) but has no sample yet ("quiet": nothing of that kind happened), or is listed as
  Planned in docs/metrics.md (not emitted yet); both are printed;
- every rule must evaluate without error in Prometheus's rule manager.

Never skipped: the session fixture starts the stack.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.observability.queries import ALERTS_FILE, alert_queries, base_name, catalogue, panel_queries, usage
from servicekit.registry import load_registry

JOBS = ("gateway-ingress", "gateway-egress", "intent", "reports", "news")
SCRAPE_S = 1
EXTERNAL = {"up"}  # Prometheus's own series


def _get(url: str, timeout: float = 3.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        return r.read()


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        return json.loads(r.read() or b"{}")


def _answers(url: str) -> bool:
    try:
        _get(url, timeout=2)
        return True
    except (urllib.error.URLError, OSError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str) -> dict[str, Any]:
        """The API's answer ({"status", "data" | "error"}), errors included."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            return json.loads(_get(url, timeout=30))
        except urllib.error.HTTPError as exc:  # 400/422 carry the parse or execution error
            return json.loads(exc.read())

    def series_count(self, expr: str) -> int:
        answer = self.query(expr)
        assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
        return len(answer["data"]["result"])


def _wait(what: str, check, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass(frozen=True)
class Stack:
    """Where the session's services listen."""

    services: dict[str, int]
    simulator: str
    kafka: str
    topic_prefix: str


@pytest.fixture(scope="module")
def stack(system) -> Stack:
    layout = system.layout
    return Stack(
        services={job: layout.ports[job] for job in JOBS},
        simulator=layout.url("zalosim"),
        kafka=system.cfg.kafka_bootstrap,
        topic_prefix=layout.topic_prefix,
    )


@pytest.fixture(scope="module")
def prometheus(prometheus_bin: Path, tmp_path_factory: pytest.TempPathFactory, stack: Stack) -> Iterator[Prometheus]:
    work = tmp_path_factory.mktemp("prometheus")
    port = _free_port()
    config = {
        "global": {"scrape_interval": f"{SCRAPE_S}s", "scrape_timeout": f"{SCRAPE_S}s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS_FILE)],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [f"127.0.0.1:{p}"], "labels": {"namespace": "devstack", "pod": f"{job}-0"}}
                ],
            }
            for job, p in stack.services.items()
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (work / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            str(prometheus_bin / "prometheus"),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/-/ready"):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"prometheus did not start:\n{(work / 'prometheus.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work / "data", ignore_errors=True)


async def _publish_malformed(stack: Stack) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            stack.topic_prefix + "zalo.events.v1", b"not json: metrics check", key=b"0:observability-check"
        )
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def traffic(prometheus: Prometheus, stack: Stack) -> Prometheus:
    """Citizens talk to three OAs; one reply meets a Zalo error; one malformed record is dead-lettered."""
    oas = [oa.key for oa in load_registry().oas[:3]]
    # Zalo user ids are decimal int64s; fresh ones, so that every run starts new conversations.
    base = 7_000_000_000_000_000_000 + uuid.uuid4().int % 10**15 * 1000
    for i, oa in enumerate(oas):
        for n in range(2):
            _post(f"{stack.simulator}/_sim/users/{oa}/{base + 10 * i + n}/text", {"text": "xin chào"})
    # -201 "invalid parameter": permanent, not retried, so the command ends `failed` with a Zalo code.
    _post(
        f"{stack.simulator}/_sim/faults", {"kind": "zalo_error", "code": -201, "path": "/v3.0/oa/message/*", "count": 1}
    )
    _post(f"{stack.simulator}/_sim/users/{oas[0]}/{base + 99}/text", {"text": "cho hỏi thủ tục tạm trú"})
    asyncio.run(_publish_malformed(stack))
    _wait(
        "the messages to be consumed and scraped",
        lambda: prometheus.series_count('zan_events_consumed_total{topic="zalo.events.v1"} > 0') > 0,
    )
    _wait("webhooks to be scraped", lambda: prometheus.series_count("zan_webhooks_total > 0") > 0)
    time.sleep(5 * SCRAPE_S)  # a few more scrapes, so rate() over histograms has two points after the traffic
    return prometheus


def test_every_service_is_scraped(traffic: Prometheus, stack: Stack) -> None:
    answer = traffic.query("up")
    up = {r["metric"]["job"]: r["value"][1] for r in answer["data"]["result"]}
    down = sorted(job for job in stack.services if up.get(job) != "1")
    assert not down, f"not scraped (not running?): {down}"


def test_every_alert_expression_runs(traffic: Prometheus) -> None:
    errors = []
    for q in alert_queries():
        answer = traffic.query(q.expr)
        if answer["status"] != "success":
            errors.append(f"{q.source}: {answer.get('error')}")
    assert not errors, "\n".join(errors)


def test_every_rule_evaluates(traffic: Prometheus) -> None:
    def evaluated() -> list[dict[str, Any]]:
        groups = json.loads(_get(f"{traffic.url}/api/v1/rules"))["data"]["groups"]
        return [r for g in groups for r in g["rules"]]

    _wait("every rule to be evaluated", lambda: all(r.get("health") in ("ok", "err") for r in evaluated()), 30)
    bad = [f"{r['name']}: {r.get('lastError')}" for r in evaluated() if r.get("health") != "ok"]
    assert not bad, "\n".join(bad)


def _declared_families(stack: Stack) -> dict[str, dict[str, bool]]:
    """Per job: metric family -> whether the service exposes a sample of it (read from its /metrics)."""
    out: dict[str, dict[str, bool]] = {}
    for job, port in stack.services.items():
        try:
            text = _get(f"http://127.0.0.1:{port}/metrics").decode()
        except (urllib.error.URLError, OSError):
            continue
        families: dict[str, bool] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                families.setdefault(line.split()[2], False)
            elif line and not line.startswith("#"):
                name = line.split("{", 1)[0].split(" ", 1)[0]
                for fam in (name, *(name.removesuffix(s) for s in ("_bucket", "_sum", "_count", "_total", "_created"))):
                    if fam in families:
                        families[fam] = True
        out[job] = families
    return out


def _why_empty(expr: str, names: set[str], families: dict[str, dict[str, bool]]) -> tuple[list[str], bool]:
    """(reasons the panel is broken, whether it is merely quiet) for a query that matched no series."""
    jobs = set(re.findall(r'job="([\w-]+)"', expr)) or set(families)
    missing_jobs = sorted(j for j in jobs if j not in families)
    if missing_jobs:
        return [f"service {', '.join(missing_jobs)} is not running"], False
    reasons = []
    for n in sorted(names - EXTERNAL):
        state = [families[j].get(n.removesuffix("_total"), families[j].get(n)) for j in jobs]
        if all(s is None for s in state):
            reasons.append(f"{n} is exposed by none of {sorted(jobs)}")
        elif any(state):
            reasons.append(f"{n} has samples, so the query's labels or filters match none of them")
    return reasons, not reasons


def test_every_panel_shows_data(traffic: Prometheus, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    docs = catalogue()
    families = _declared_families(stack)
    failures, quiet, planned = [], [], []
    for q in panel_queries():
        answer = traffic.query(q.expr)
        if answer["status"] != "success":
            failures.append(f"{q.source}: query error: {answer.get('error')}")
            continue
        if answer["data"]["result"]:
            continue
        names = {base_name(s.metric, docs) or s.metric for s in usage(q.expr).selectors if s.metric}
        if names and all(docs.get(n) and docs[n].status == "planned" for n in names):
            planned.append(f"{q.source}: {sorted(names)}")
            continue
        reasons, is_quiet = _why_empty(q.expr, names, families)
        if is_quiet:
            quiet.append(f"{q.source}: {sorted(names)}")
        else:
            failures.append(f"{q.source}: no series: {'; '.join(reasons)}\n    {q.expr}")
    with capsys.disabled():
        for line in quiet:
            print(f"\nquiet (declared, nothing of the kind happened yet): {line}", end="")
        for line in planned:
            print(f"\nplanned metrics (docs/metrics.md), not emitted yet: {line}", end="")
    assert not failures, "\n".join(failures)
