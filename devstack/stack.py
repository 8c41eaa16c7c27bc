"""The whole local stack: infrastructure, topics, the Zalo simulator and the services.

`make run` uses the default layout (fixed ports, plain topic names). End-to-end tests use an isolated
layout (free ports, a topic prefix, their own databases and process names), so they never disturb a
stack a developer has running.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack import ferretdb, kafka, procs
from devstack.paths import REPO_ROOT, StackConfig
from devstack.topics import ensure_topics

DEFAULT_PORTS = {
    "zalosim": 8900,
    "gateway-ingress": 8080,
    "gateway-egress": 8081,
    "intent": 8082,
    "reports": 8083,
    "news": 8084,
    "console": 8085,
}
MODULES = {
    "zalosim": "zalosim",
    "gateway-ingress": "services.gateway.ingress",
    "gateway-egress": "services.gateway.egress",
    "intent": "services.intent",
    "reports": "services.reports",
    "news": "services.news",
    "console": "services.console",
}
ENV_PREFIX = {
    "zalosim": "ZALOSIM_",
    "gateway-ingress": "INGRESS_",
    "gateway-egress": "EGRESS_",
    "intent": "INTENT_",
    "reports": "REPORTS_",
    "news": "NEWS_",
    "console": "CONSOLE_",
}


@dataclass(frozen=True)
class Layout:
    """Where each process listens and how its data is named."""

    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    topic_prefix: str = ""
    db_suffix: str = ""
    process_prefix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def process(self, name: str) -> str:
        return self.process_prefix + name

    def database(self, name: str) -> str:
        """The MongoDB database of a process."""
        return name.replace("-", "_") + self.db_suffix


def infra_up(cfg: StackConfig) -> None:
    """Kafka and FerretDB running and usable, topics created."""
    ferretdb.start(cfg)
    kafka.start(cfg)
    asyncio.run(ensure_topics(cfg.kafka_bootstrap))


def available(name: str) -> bool:
    module = MODULES[name].replace(".", "/")
    return (REPO_ROOT / module / "__main__.py").exists() or (REPO_ROOT / f"{module}.py").exists()


def service_env(cfg: StackConfig, layout: Layout, name: str) -> dict[str, str]:
    """The environment of one process: infrastructure, its port, isolation names and links to its peers."""
    p = ENV_PREFIX[name]
    env = {f"{p}HTTP_PORT": str(layout.ports[name]), f"{p}PORT": str(layout.ports[name])}
    if name == "zalosim":
        env[f"{p}WEBHOOK_URL"] = layout.url("gateway-ingress") + "/zalo/webhook"
    else:
        env |= {
            f"{p}KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
            f"{p}MONGO_URI": cfg.mongo_uri,
            f"{p}MONGO_DB": layout.database(name),
            f"{p}TOPIC_PREFIX": layout.topic_prefix,
        }
        if layout.process_prefix:  # an isolated system on a shared broker: consumer groups of its own
            env[f"{p}CONSUMER_GROUP"] = layout.process(name)
    if name == "news" and layout.process_prefix:
        env[f"{p}EGRESS_GROUP"] = layout.process("gateway-egress") + "-bulk"
    if name == "gateway-ingress":
        env[f"{p}SPOOL_DIR"] = str(cfg.run_dir / "spool" / layout.process("gateway-ingress"))
    if name == "gateway-egress":
        env[f"{p}ZALO_API_BASE"] = layout.url("zalosim")
        env[f"{p}ZALO_OAUTH_BASE"] = layout.url("zalosim")
    if name == "reports":
        env[f"{p}MEDIA_ALLOWED_HOSTS"] = json.dumps(["127.0.0.1", "localhost"])
    if name in ("reports", "news"):
        env[f"{p}ENVIRONMENT"] = "dev"  # the local stack: development keys and dev sign-in tokens
    if name == "console":
        env |= console_env(layout)
    return env | {k: v for k, v in layout.extra_env.items() if k.startswith(p)}


def console_env(layout: Layout) -> dict[str, str]:
    """The console's links to the APIs and its development sign-in, with the dev secrets, issuers and
    audiences the reports and news services accept in dev mode (their settings are the one source)."""
    from services.news.settings import NewsSettings
    from services.reports.settings import DEV_JWT_SECRET, ReportsSettings

    def value(env_name: str, cls: type, field_name: str) -> str:
        default = cls.model_fields[field_name].default
        plain = default.get_secret_value() if hasattr(default, "get_secret_value") else str(default)
        return layout.extra_env.get(env_name, plain)

    return {
        "CONSOLE_REPORTS_URL": layout.url("reports"),
        "CONSOLE_NEWS_URL": layout.url("news"),
        "CONSOLE_DEV_LOGIN": "true",
        "CONSOLE_DEV_REPORTS_JWT_SECRET": layout.extra_env.get(
            "REPORTS_JWT_HS256_SECRET", DEV_JWT_SECRET.get_secret_value()
        ),
        "CONSOLE_DEV_REPORTS_JWT_ISSUER": value("REPORTS_JWT_ISSUER", ReportsSettings, "jwt_issuer"),
        "CONSOLE_DEV_REPORTS_JWT_AUDIENCE": value("REPORTS_JWT_AUDIENCE", ReportsSettings, "jwt_audience"),
        "CONSOLE_DEV_NEWS_JWT_SECRET": value("NEWS_JWT_HS256_SECRET", NewsSettings, "jwt_hs256_secret"),
        "CONSOLE_DEV_NEWS_JWT_ISSUER": value("NEWS_JWT_ISSUER", NewsSettings, "jwt_issuer"),
        "CONSOLE_DEV_NEWS_JWT_AUDIENCE": value("NEWS_JWT_AUDIENCE", NewsSettings, "jwt_audience"),
    }


def _http_json(url: str, method: str = "GET", body: dict | None = None, timeout: float = 5.0) -> dict:
    data = json.dumps(body or {}).encode() if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback only
        return json.loads(r.read() or b"{}")


def mint_tokens(layout: Layout) -> dict[str, str]:
    """Refresh tokens for every OA from the simulator (Zalo's API Explorer, simulated)."""
    items = _http_json(layout.url("zalosim") + "/_sim/oauth/grant", "POST")["items"]
    return {i["oa_key"]: i["refresh_token"] for i in items}


def services_up(cfg: StackConfig, layout: Layout | None = None, timeout_s: float = 120.0) -> list[str]:
    """Start the simulator and every service of this checkout; wait until each is ready."""
    layout = layout or Layout()
    names = [n for n in MODULES if available(n)]
    if "zalosim" in names:
        _start(cfg, layout, "zalosim")
        wait_ready(cfg, layout, "zalosim", timeout_s)
    extra: dict[str, str] = {}
    if (
        "zalosim" in names
        and "gateway-egress" in names
        and procs.running_pid(cfg, layout.process("gateway-egress")) is None
    ):
        extra["EGRESS_BOOTSTRAP_REFRESH_TOKENS"] = json.dumps(mint_tokens(layout))
    for n in names:
        if n != "zalosim":
            _start(cfg, layout, n, extra)
    for n in names:
        wait_ready(cfg, layout, n, timeout_s)
    return names


def _start(cfg: StackConfig, layout: Layout, name: str, extra: dict[str, str] | None = None) -> None:
    if procs.running_pid(cfg, layout.process(name)) is not None:
        return
    env = service_env(cfg, layout, name) | {k: v for k, v in (extra or {}).items() if k.startswith(ENV_PREFIX[name])}
    procs.start(cfg, layout.process(name), [sys.executable, "-m", MODULES[name]], env=env, cwd=REPO_ROOT)


def wait_ready(cfg: StackConfig, layout: Layout, name: str, timeout_s: float) -> None:
    path = "/_sim/health" if name == "zalosim" else "/readyz"
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if procs.running_pid(cfg, layout.process(name)) is None:
            raise procs.StartError(f"{name} exited. Log tail:\n{procs.log_tail(cfg, layout.process(name))}")
        try:
            with urllib.request.urlopen(layout.url(name) + path, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status == 200:
                    return
        except Exception as exc:
            last = getattr(exc, "read", lambda: b"")().decode(errors="replace") or repr(exc)
        time.sleep(0.3)
    raise procs.StartError(
        f"{name} not ready after {timeout_s:.0f}s: {last}\n{procs.log_tail(cfg, layout.process(name))}"
    )


def services_down(cfg: StackConfig, layout: Layout | None = None) -> None:
    layout = layout or Layout()
    for name in reversed(list(MODULES)):
        procs.stop(cfg, layout.process(name))


def down(cfg: StackConfig) -> None:
    services_down(cfg)
    kafka.stop(cfg)
    ferretdb.stop(cfg)


def clean(cfg: StackConfig) -> None:
    down(cfg)
    shutil.rmtree(cfg.run_dir, ignore_errors=True)


def status(cfg: StackConfig) -> dict[str, bool]:
    return {n: procs.running_pid(cfg, n) is not None for n in ["ferretdb", "kafka", *MODULES]}


def print_status(cfg: StackConfig) -> None:
    print(json.dumps(status(cfg), indent=2))


def spool_dir(cfg: StackConfig, layout: Layout) -> Path:
    return cfg.run_dir / "spool" / layout.process("gateway-ingress")
