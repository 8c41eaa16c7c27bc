"""The whole system as separate processes on the real broker and FerretDB, isolated by naming.

Free ports, a fresh topic prefix, databases and process names of their own: a developer's `make run`
stack keeps running undisturbed while the end-to-end tests use theirs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

from devstack import stack
from devstack.paths import StackConfig
from devstack.topics import ensure_topics
from servicekit.testing import free_port, poll_until, register_prefix, unique


@dataclass
class System:
    """Handles on a running system: URLs, the simulator's control API, the layout."""

    cfg: StackConfig
    layout: stack.Layout
    http: aiohttp.ClientSession

    def url(self, name: str) -> str:
        return self.layout.url(name)

    async def sim(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, self.url("zalosim") + path, json=body) as r:
            r.raise_for_status()
            return await r.json()

    async def citizen(self, oa_key: str, user_id: str, action: str, **body: Any) -> dict[str, Any]:
        """The citizen does something in Zalo (the simulator signs and delivers the webhook)."""
        result = await self.sim("POST", f"/_sim/users/{oa_key}/{user_id}/{action}", body)
        return result

    async def messages_to(self, oa_key: str, user_id: str) -> list[dict[str, Any]]:
        """Messages the OA sent to the citizen, oldest first."""
        got = await self.sim("GET", f"/_sim/messages?oa_key={oa_key}&user_id={user_id}")
        return got["items"]

    async def wait_messages(self, oa_key: str, user_id: str, count: int, timeout: float = 30.0) -> list[dict]:
        async def enough():
            items = await self.messages_to(oa_key, user_id)
            return items if len(items) >= count else None

        return await poll_until(enough, f"{count} message(s) to {user_id}", timeout)


def isolated_layout() -> stack.Layout:
    ports = {name: free_port() for name in stack.MODULES}
    tag = unique("e2e")
    return stack.Layout(
        ports=ports,
        topic_prefix=f"{tag}.",
        db_suffix=f"_{tag}",
        process_prefix=f"{tag}-",
        extra_env={
            "ZALOSIM_RETRY_TIME_SCALE": "0.001",
            "INTENT_FORM_EXPIRY_S": "1800",
            "REPORTS_AUTH_MODE": "dev",
            "NEWS_AUTH_MODE": "dev",
        },
    )


async def start_system(cfg: StackConfig, layout: stack.Layout) -> None:
    register_prefix(layout.topic_prefix)
    await ensure_topics(cfg.kafka_bootstrap, layout.topic_prefix, max_partitions=3)
    await asyncio.to_thread(stack.services_up, cfg, layout, 120.0)


async def stop_system(cfg: StackConfig, layout: stack.Layout) -> None:
    await asyncio.to_thread(stack.services_down, cfg, layout)


def dump_logs(cfg: StackConfig, layout: stack.Layout) -> str:
    from devstack import procs

    return "\n".join(f"--- {n}\n{procs.log_tail(cfg, layout.process(n), 30)}" for n in stack.MODULES)


__all__ = ["System", "dump_logs", "isolated_layout", "start_system", "stop_system"]


def officer_token(role: str, unit: str | None, sub: str = "officer-1") -> str:
    """A development officer token the reports service accepts in dev mode."""
    from servicekit.auth import mint
    from services.reports.settings import ReportsSettings

    settings = ReportsSettings(environment="dev")
    secret = settings.effective_hs256_secret
    assert secret is not None
    return mint(
        secret.get_secret_value(),
        sub=sub,
        role=role,
        unit=unit,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


def tiny_png(shade: int) -> str:
    """A distinct 2×2 grey PNG, base64, for photo uploads through the simulator."""
    import base64
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([shade % 256]) * 2 for _ in range(2))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode()


def fraud_warning_campaign(tag: str, link: str, target: dict[str, Any]) -> dict[str, Any]:
    """An editor's campaign (article and direct messages, free window only) for the journeys and chaos runs."""
    return {
        "title": f"Cảnh báo lừa đảo qua điện thoại {tag}",
        "summary": "Công an phường cảnh báo thủ đoạn giả danh cán bộ để chiếm đoạt tài sản.",
        "cover_url": "https://cdn.example.vn/cover.jpg",
        "body": [{"type": "text", "content": "Không chuyển tiền cho người lạ tự xưng là công an."}],
        "link": link,
        "target": target,
        "channels": {"article": True, "direct": True, "allow_billed": False},
    }


def newsroom_token(role: str, sub: str) -> str:
    """A development editor or supervisor token the news service accepts in dev mode."""
    from servicekit.auth import mint
    from services.news.settings import NewsSettings

    settings = NewsSettings(environment="dev")
    return mint(
        settings.jwt_hs256_secret.get_secret_value(),
        sub=sub,
        role=role,
        unit="tanphu",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=900,
    )
