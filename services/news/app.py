"""Composition root of the news service: kit (MongoDB, producer, consumer), deps, API, scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from contracts import utcnow
from servicekit.registry import Registry
from servicekit.service import KIT, Kit, service_app
from services.news import api
from services.news.auth import token_verifier
from services.news.fanout import Scheduler, default_owner
from services.news.handlers import HANDLERS, Deps, NewsMetrics
from services.news.settings import NewsSettings
from services.news.store import NewsStore

log = logging.getLogger("news.app")


def create_app(
    settings: NewsSettings, *, clock: Callable[[], datetime] = utcnow, registry: Registry | None = None
) -> web.Application:
    """The news service: consumers, the editor API and the campaign scheduler."""
    app = service_app(
        settings,
        routes=HANDLERS,
        deps=_make_deps(settings, clock),
        extra_contexts=[_scheduler_ctx],
        middlewares=[api.api_errors],
        registry=registry,
    )
    api.add_routes(app)
    return app


def _make_deps(settings: NewsSettings, clock: Callable[[], datetime]):
    async def make_deps(kit: Kit) -> AsyncIterator[Deps]:
        assert kit.db is not None
        store = NewsStore(kit.db, settings.scan_timeout_s)
        for attempt in range(1, 31):
            try:
                await store.ensure_indexes()
                break
            except Exception as exc:
                if attempt == 30:
                    raise
                log.warning("indexes not created yet (%s), retrying", type(exc).__name__)
                await asyncio.sleep(min(5.0, 0.5 * attempt))
        yield Deps(
            settings=settings,
            store=store,
            registry=kit.oa_registry,
            metrics=NewsMetrics(kit.prometheus),
            verifier=token_verifier(settings),
            clock=clock,
        )

    return make_deps


async def _scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    kit = app[KIT]
    assert kit.producer is not None
    settings = kit.settings
    assert isinstance(settings, NewsSettings)
    scheduler = Scheduler(kit.deps, kit.producer, settings.replica_id or default_owner())
    scheduler.start()

    async def alive() -> bool:
        return scheduler.alive()

    kit.checks["scheduler"] = alive
    yield
    await scheduler.stop()
