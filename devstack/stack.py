"""The whole local stack: infrastructure, topics, the Zalo simulator and the services."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass

from devstack import ferretdb, kafka, procs
from devstack.paths import REPO_ROOT, StackConfig
from devstack.topics import ensure_topics


def infra_up(cfg: StackConfig) -> None:
    """Kafka and FerretDB running and usable, topics created."""
    ferretdb.start(cfg)
    kafka.start(cfg)
    asyncio.run(ensure_topics(cfg.kafka_bootstrap))


@dataclass(frozen=True)
class ServiceProc:
    """One process of `make run`: its name, module, HTTP port and environment."""

    name: str
    module: str
    port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def service_procs(cfg: StackConfig, available: set[str] | None = None) -> list[ServiceProc]:
    """The processes of the system, each configured for the local stack (dev defaults)."""
    common = {"KAFKA_BOOTSTRAP": cfg.kafka_bootstrap, "MONGO_URI": cfg.mongo_uri}
    sim_port = 8900
    candidates = [
        ServiceProc(
            "zalosim",
            "zalosim",
            sim_port,
            {"ZALOSIM_PORT": str(sim_port), "ZALOSIM_WEBHOOK_URL": "http://127.0.0.1:8080/zalo/webhook"},
        ),
        ServiceProc("gateway-ingress", "services.gateway.ingress", 8080, {}),
        ServiceProc(
            "gateway-egress",
            "services.gateway.egress",
            8081,
            {
                "EGRESS_ZALO_API_BASE": f"http://127.0.0.1:{sim_port}",
                "EGRESS_ZALO_OAUTH_BASE": f"http://127.0.0.1:{sim_port}",
            },
        ),
        ServiceProc("intent", "services.intent", 8082, {}),
        ServiceProc("reports", "services.reports", 8083, {}),
        ServiceProc("news", "services.news", 8084, {}),
    ]
    procs_ = []
    for c in candidates:
        if available is not None and c.name not in available:
            continue
        prefix = {"gateway-ingress": "INGRESS_", "gateway-egress": "EGRESS_", "zalosim": "ZALOSIM_"}.get(
            c.name, c.name.upper() + "_"
        )
        env = {f"{prefix}{k}": v for k, v in common.items()} | {f"{prefix}HTTP_PORT": str(c.port)} | c.env
        procs_.append(ServiceProc(c.name, c.module, c.port, env))
    return procs_


def _module_exists(module: str) -> bool:
    return (REPO_ROOT / module.replace(".", "/") / "__main__.py").exists() or (
        REPO_ROOT / (module.replace(".", "/") + ".py")
    ).exists()


def services_up(cfg: StackConfig, timeout_s: float = 90.0) -> list[ServiceProc]:
    """Start every service that exists in this checkout; wait until each /readyz is green."""
    started = []
    for p in service_procs(cfg):
        if not _module_exists(p.module):
            continue
        if procs.running_pid(cfg, p.name) is None:
            procs.start(cfg, p.name, [sys.executable, "-m", p.module], env=p.env, cwd=REPO_ROOT)
        started.append(p)
    for p in started:
        wait_http_ready(cfg, p, timeout_s)
    return started


def wait_http_ready(cfg: StackConfig, p: ServiceProc, timeout_s: float) -> None:
    path = "/_sim/health" if p.name == "zalosim" else "/readyz"
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if procs.running_pid(cfg, p.name) is None:
            raise procs.StartError(f"{p.name} exited. Log tail:\n{procs.log_tail(cfg, p.name)}")
        try:
            with urllib.request.urlopen(p.url + path, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status == 200:
                    return
        except Exception as exc:
            last = getattr(exc, "read", lambda: b"")().decode(errors="replace") or repr(exc)
        time.sleep(0.5)
    raise procs.StartError(f"{p.name} not ready after {timeout_s:.0f}s: {last}\n{procs.log_tail(cfg, p.name)}")


def services_down(cfg: StackConfig) -> None:
    for p in reversed(service_procs(cfg)):
        procs.stop(cfg, p.name)


def down(cfg: StackConfig) -> None:
    services_down(cfg)
    kafka.stop(cfg)
    ferretdb.stop(cfg)


def clean(cfg: StackConfig) -> None:
    down(cfg)
    shutil.rmtree(cfg.run_dir, ignore_errors=True)


def status(cfg: StackConfig) -> dict[str, bool]:
    names = ["ferretdb", "kafka", *[p.name for p in service_procs(cfg)]]
    return {n: procs.running_pid(cfg, n) is not None for n in names}


def print_status(cfg: StackConfig) -> None:
    print(json.dumps(status(cfg), indent=2))
