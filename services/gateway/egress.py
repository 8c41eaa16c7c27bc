"""Gateway egress: consumes zalo.outbound.v1, sends each command to Zalo, publishes zalo.delivery.v1.

Composition root. The kit gives the consumer loop (at-least-once, deduplicated on event_id), the
producer, MongoDB, health and metrics; this module adds the Zalo side: the HTTP client, the OA token
manager, the shared rate limiter and the per-command send records (delivery.py), plus two background
tasks: the token keeper (refreshes idle OAs before expiry) and housekeeping (purges old records).

Run: `python -m services.gateway.egress` (settings from EGRESS_* variables, see docs/gateway.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from contracts import utcnow
from servicekit.errors import is_infrastructure_error
from servicekit.registry import Registry
from servicekit.runner import serve
from servicekit.service import Kit, service_app
from services.gateway.delivery import Delivery, ZaloCaller
from services.gateway.handlers import BULK_HANDLERS, HANDLERS, Deps
from services.gateway.metrics import EgressMetrics
from services.gateway.ratelimit import RateLimiter
from services.gateway.settings import EgressSettings
from services.gateway.store import RateSlots, Sealer, SendStore, TokenStore
from services.gateway.tokens import TokenManager
from services.gateway.zalo_client import ZaloClient

log = logging.getLogger("gateway.egress")

Clock = Callable[[], datetime]


def instance_id() -> str:
    """Who holds a lease or a claim: host, process and a random suffix (unique per start)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class ZaloStack:
    """The Zalo side shared by the egress and the follower sync."""

    client: ZaloClient
    tokens: TokenManager
    limiter: RateLimiter
    caller: ZaloCaller
    sends: SendStore
    slots: RateSlots
    metrics: EgressMetrics
    owner: str


@asynccontextmanager
async def zalo_stack(
    settings: EgressSettings,
    db: AsyncDatabase,
    registry: Registry,
    prometheus: CollectorRegistry,
    *,
    clock: Clock = utcnow,
    wall: Callable[[], float] = time.time,
    owner: str | None = None,
) -> AsyncIterator[ZaloStack]:
    """Build the client, tokens (bootstrap adopted), rate limiter and caller; close the session after."""
    metrics = EgressMetrics(prometheus)
    owner = owner or instance_id()
    key = settings.token_encryption_key.get_secret_value() if settings.token_encryption_key else None
    if key is None:
        log.warning("EGRESS_TOKEN_ENCRYPTION_KEY is not set: OA tokens are stored in clear in MongoDB")
    async with aiohttp.ClientSession() as session:
        client = ZaloClient(
            session,
            api_base=settings.zalo_api_base,
            oauth_base=settings.zalo_oauth_base,
            app_id=registry.app_id,
            app_secret=settings.app_secret.get_secret_value(),
            timeout_s=settings.http_timeout_s,
            metrics=metrics,
        )
        token_store = TokenStore(db, Sealer(key))
        tokens = TokenManager(
            token_store,
            client,
            registry,
            owner=owner,
            refresh_before_expiry_s=settings.refresh_before_expiry_s,
            lease_s=settings.token_lease_s,
            metrics=metrics,
            clock=clock,
        )
        slots = RateSlots(db)
        limiter = RateLimiter(
            slots,
            limit=settings.rate_limit_per_window,
            window_s=settings.rate_window_s,
            campaign_share=settings.campaign_share,
            conversation_reserve=settings.conversation_reserve,
            guard_s=settings.rate_boundary_guard_s,
            batch_max=settings.rate_batch_max,
            metrics=metrics,
            wall=wall,
            rng=random.random,
        )
        caller = ZaloCaller(
            client,
            tokens,
            limiter,
            metrics,
            max_attempts=settings.send_max_attempts,
            backoff_initial_s=settings.send_backoff_initial_s,
            backoff_max_s=settings.send_backoff_max_s,
            clock=clock,
        )
        sends = SendStore(db)
        for store in (sends, slots, token_store):
            await _retry(store.ensure_indexes, "egress indexes")
        bootstrap = {k: v.get_secret_value() for k, v in settings.bootstrap_refresh_tokens.items()}
        await _retry(lambda: tokens.adopt_bootstrap(bootstrap), "bootstrap token adoption")
        yield ZaloStack(client, tokens, limiter, caller, sends, slots, metrics, owner)


def create_app(
    settings: EgressSettings,
    *,
    clock: Clock = utcnow,
    wall: Callable[[], float] = time.time,
    registry: Registry | None = None,
    owner: str | None = None,
) -> web.Application:
    """The egress app; tests may swap the clocks, the registry and the instance id."""

    async def make_deps(kit: Kit) -> AsyncIterator[Deps]:
        assert kit.db is not None
        assert isinstance(kit.settings, EgressSettings)
        s = kit.settings
        async with zalo_stack(s, kit.db, kit.oa_registry, kit.prometheus, clock=clock, wall=wall, owner=owner) as z:
            delivery = Delivery(s, kit.oa_registry, z.sends, z.caller, z.metrics, owner=z.owner, clock=clock)
            tasks = [
                asyncio.create_task(_every(s.token_check_interval_s, z.tokens.keep_fresh, "token check")),
                asyncio.create_task(_every(3600.0, lambda: _housekeeping(z, s, clock), "housekeeping")),
            ]
            yield Deps(delivery)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return service_app(
        settings, routes=HANDLERS, side_routes={"bulk": BULK_HANDLERS}, deps=make_deps, registry=registry
    )


async def _housekeeping(z: ZaloStack, settings: EgressSettings, clock: Clock) -> None:
    now = clock()
    await z.sends.purge_older_than(settings.sends_retention_days, now)
    await z.slots.purge_before(now - timedelta(days=1))


async def _every(interval_s: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    while True:
        try:
            await job()
        except Exception as exc:
            log.warning("%s failed: %s", what, type(exc).__name__)
        await asyncio.sleep(interval_s)


async def _retry(start: Callable[[], Awaitable[object]], what: str, attempts: int = 30) -> None:
    """Run a start-up step, retrying while MongoDB comes up."""
    for attempt in range(1, attempts + 1):
        try:
            await start()
            return
        except Exception as exc:
            if attempt == attempts or not is_infrastructure_error(exc):
                raise
            log.warning("%s not possible yet (%s), retrying", what, type(exc).__name__)
            await asyncio.sleep(min(5.0, 0.5 * attempt))


def main() -> None:
    settings = EgressSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
