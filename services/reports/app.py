"""Composition root of the reports service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from contracts import utcnow
from servicekit.registry import Registry
from servicekit.service import KIT, Kit, retry_start, service_app
from services.reports import api, attachments, changes, notices, openapi
from services.reports.auth import Authenticator
from services.reports.caseindex import CaseFeed, CaseIndex
from services.reports.crypto import CitizenIndex, ReporterCipher
from services.reports.deps import Deps, ReportsMetrics
from services.reports.domain import RoutingRules
from services.reports.handlers import HANDLERS
from services.reports.settings import ReportsSettings
from services.reports.store import Store

log = logging.getLogger("reports.app")


def load_routing_rules(path: Path) -> RoutingRules:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    doc.pop("$comment", None)
    return RoutingRules.model_validate(doc)


def create_app(
    settings: ReportsSettings,
    *,
    clock: Callable[[], datetime] = utcnow,
    rng: Callable[[], float] = random.random,
    registry: Registry | None = None,
    prometheus: CollectorRegistry | None = None,
) -> web.Application:
    """The reports service: consumers of its five topics, the officer API and the background duties."""
    app = service_app(
        settings,
        routes=HANDLERS,
        deps=_deps_factory(clock, rng),
        extra_contexts=[_api_ctx, _background_ctx],
        registry=registry,
        prometheus=prometheus,
        middlewares=[api.api_middleware],
    )
    app[api.API] = api.ApiState(openapi=openapi.render().encode())
    api.add_routes(app)
    return app


def _deps_factory(clock: Callable[[], datetime], rng: Callable[[], float]):
    async def make_deps(kit: Kit) -> AsyncIterator[Deps]:
        settings = kit.settings
        assert isinstance(settings, ReportsSettings) and kit.db is not None
        rules = load_routing_rules(settings.routing_rules_path)
        problems = rules.problems(kit.oa_registry)
        if problems:
            raise ValueError("routing rules do not fit the OA registry: " + "; ".join(problems))
        store = Store(kit.db)
        await retry_start(store.ensure_indexes, "reports indexes")
        http = aiohttp.ClientSession()
        deps = Deps(
            settings=settings,
            registry=kit.oa_registry,
            rules=rules,
            store=store,
            cipher=ReporterCipher.from_settings(settings),
            citizens=CitizenIndex.from_settings(settings),
            index=CaseIndex(),
            metrics=ReportsMetrics(kit.prometheus),
            clock=clock,
            http=http,
            rng=rng,
        )
        try:
            yield deps
        finally:
            await http.close()

    return make_deps


async def _api_ctx(app: web.Application) -> AsyncIterator[None]:
    kit = app[KIT]
    state = app[api.API]
    state.deps = kit.deps
    state.auth = Authenticator(kit.deps.settings, frozenset(o.key for o in kit.oa_registry.oas))
    yield
    state.deps = None


async def _background_ctx(app: web.Application) -> AsyncIterator[None]:
    kit = app[KIT]
    deps: Deps = kit.deps
    producer = kit.producer
    assert producer is not None
    feed = CaseFeed(deps.settings, deps.store, deps.index)
    await feed.start()

    async def index_loaded() -> bool:
        return deps.index.loaded.is_set()

    kit.checks["case_index"] = index_loaded
    stopping = asyncio.Event()
    tasks = [
        asyncio.create_task(attachments.run_worker(deps, stopping), name="reports:attachments"),
        asyncio.create_task(
            _every(deps.settings.sweep_interval_s, stopping, lambda: _sweep(deps, producer)), name="reports:sweeper"
        ),
        asyncio.create_task(
            _every(deps.settings.metrics_refresh_s, stopping, lambda: refresh_gauges(deps)), name="reports:gauges"
        ),
    ]
    yield
    stopping.set()
    deps.attachments_wakeup.set()
    _, pending = await asyncio.wait(tasks, timeout=5.0)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await feed.stop()


async def _every(interval_s: float, stopping: asyncio.Event, duty: Callable[[], Awaitable[Any]]) -> None:
    while not stopping.is_set():
        try:
            await duty()
        except Exception as exc:
            log.warning("background duty failed", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)


async def _sweep(deps: Deps, producer: Any) -> None:
    await changes.sweep_outbox(deps, producer)
    outgoing = await notices.sweep(deps)
    if outgoing:
        await producer.publish_all(outgoing)


async def refresh_gauges(deps: Deps) -> None:
    """Gauges from the case index and the small live collections (every replica reports the same values)."""
    m = deps.metrics
    if deps.index.loaded.is_set():
        stats = await deps.index.stats_off_loop(deps.clock().timestamp(), deps.settings.urgent_ack_threshold_s)
        for labels in list(_seen_case_labels(m)):
            if labels not in stats.by_kind_unit_status:
                m.cases.labels(*labels).set(0)
        for labels, n in stats.by_kind_unit_status.items():
            m.cases.labels(*labels).set(n)
        m.open_urgent.set(stats.open_urgent)
        m.urgent_unacknowledged.set(stats.urgent_unacknowledged)
        m.urgent_unacknowledged_oldest.set(stats.oldest_urgent_received_s)
        m.index_cases.set(len(deps.index))
    pending = {"sent": 0, "waiting": 0, "retry": 0}
    for head, state in await notices.open_notices(deps, None):
        del head
        name = state.get("state")
        if name in pending:
            pending[name] += 1
    for name, n in pending.items():
        m.notices_pending.labels(name).set(n)
    m.attachments_queued.set(await deps.store.queued_attachment_count())


def _seen_case_labels(m: ReportsMetrics) -> list[tuple[str, str, str]]:
    out = []
    for metric in m.cases.collect():
        for sample in metric.samples:
            out.append((sample.labels["kind"], sample.labels["unit"], sample.labels["status"]))
    return out
