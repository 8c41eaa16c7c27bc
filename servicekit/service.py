"""Composition helpers: every service's `create_app` builds its app through `service_app`.

Each resource (MongoDB client, producer, the service's own dependencies, the consumer loop) is one
`cleanup_ctx` async generator, created in that order and closed in reverse: on SIGTERM the consumer
drains first, while the producer and the database are still there for the record in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.consumer import ConsumerLoop, Handler
from servicekit.http import ReadinessCheck, add_health_routes, metrics_middleware
from servicekit.idempotency import IdempotencyStore
from servicekit.metrics import KitMetrics, MongoCommandMetrics
from servicekit.mongo import make_client, ping
from servicekit.producer import EventProducer
from servicekit.registry import Registry, load_registry
from servicekit.settings import ServiceSettings

log = logging.getLogger("servicekit.service")

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


@dataclass
class Kit:
    """The infrastructure handles of one service instance."""

    settings: ServiceSettings
    metrics: KitMetrics
    prometheus: CollectorRegistry
    oa_registry: Registry
    mongo: AsyncMongoClient | None = None
    db: AsyncDatabase | None = None
    producer: EventProducer | None = None
    consumers: dict[str, ConsumerLoop[Any]] = field(default_factory=dict)
    deps: Any = None
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)


KIT = web.AppKey("kit", Kit)

DepsFactory = Callable[[Kit], AsyncIterator[Any]]


def service_app(
    settings: ServiceSettings,
    *,
    routes: Mapping[str, Handler[Any]] | None = None,
    side_routes: Mapping[str, Mapping[str, Handler[Any]]] | None = None,
    deps: DepsFactory | None = None,
    uses_mongo: bool = True,
    uses_producer: bool = True,
    kafka_gates_readiness: bool = True,
    extra_contexts: Sequence[CleanupCtx] = (),
    registry: Registry | None = None,
    prometheus: CollectorRegistry | None = None,
    middlewares: Sequence[Any] = (),
) -> web.Application:
    """An aiohttp app with health, metrics, MongoDB, the producer, the service's deps and its consumer.

    `deps` is an async generator over the Kit: it yields the object handed to every handler and
    may clean up after the yield. `extra_contexts` run after the deps and before the consumer.
    `kafka_gates_readiness=False` is for a service that stays useful without the broker (the
    webhook ingress spools). `side_routes` adds consumer loops of their own, one per name, in the
    consumer group `<group>-<name>`: topics whose records may wait long (campaign commands waiting
    for rate slots) so that they never hold up the records of `routes`.
    """
    prom = prometheus or CollectorRegistry()
    metrics = KitMetrics(prom)
    kit = Kit(
        settings=settings,
        metrics=metrics,
        prometheus=prom,
        oa_registry=registry or load_registry(settings.registry_path, settings.ward_mergers_path),
    )
    app = web.Application(middlewares=[metrics_middleware(metrics), *middlewares], client_max_size=1024**2)
    app[KIT] = kit

    if uses_mongo:
        app.cleanup_ctx.append(_mongo_ctx)
    if uses_producer:
        app.cleanup_ctx.append(_producer_ctx(kafka_gates_readiness))
    if deps is not None:
        app.cleanup_ctx.append(_deps_ctx(deps))
    app.cleanup_ctx.extend(extra_contexts)
    if routes:
        app.cleanup_ctx.append(_consumer_ctx(routes, None))
    for name, side in (side_routes or {}).items():
        app.cleanup_ctx.append(_consumer_ctx(side, name))

    add_health_routes(app, metrics, kit.checks)
    return app


async def _mongo_ctx(app: web.Application) -> AsyncIterator[None]:
    kit = app[KIT]
    kit.mongo = make_client(kit.settings, [MongoCommandMetrics(kit.metrics.registry).listener()])
    kit.db = kit.mongo[kit.settings.database]
    db = kit.db
    kit.checks["mongo"] = lambda: ping(db, kit.settings.mongo_timeout_s)
    yield
    await kit.mongo.close()


def _producer_ctx(gates_readiness: bool) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        kit = app[KIT]
        producer = EventProducer(
            kit.settings.kafka(), kit.metrics, kit.settings.topic_prefix, client_id=kit.settings.service_name
        )
        await retry_start(producer.start, "kafka producer")
        kit.producer = producer
        if gates_readiness:
            kit.checks["kafka"] = producer.broker_reachable
        yield
        await producer.stop()

    return ctx


def _deps_ctx(factory: DepsFactory) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        kit = app[KIT]
        async for deps in _single(factory(kit)):
            kit.deps = deps
            yield

    return ctx


async def _single(gen: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Drive a one-yield async generator: value before, cleanup after."""
    value = await gen.__anext__()
    try:
        yield value
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


def _consumer_ctx(routes: Mapping[str, Handler[Any]], name: str | None) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        kit = app[KIT]
        assert kit.db is not None and kit.producer is not None, "a consumer needs MongoDB and the producer"
        group = f"{kit.settings.group}-{name}" if name else kit.settings.group
        idempotency = IdempotencyStore(kit.db, group)
        await retry_start(idempotency.ensure_indexes, "idempotency indexes")
        loop = ConsumerLoop(kit.settings, routes, kit.deps, kit.producer, idempotency, kit.metrics, group=group)
        await retry_start(loop.start, f"kafka consumer {group}")
        kit.consumers[group] = loop
        kit.checks[f"consumer-{name}" if name else "consumer"] = _as_check(loop.ready)
        purger = asyncio.create_task(_purge_forever(idempotency, kit.settings.idempotency_retention_days))
        yield
        purger.cancel()
        await asyncio.gather(purger, return_exceptions=True)
        await loop.stop()

    return ctx


def _as_check(fn: Callable[[], bool]) -> ReadinessCheck:
    async def check() -> bool:
        return fn()

    return check


async def _purge_forever(idempotency: IdempotencyStore, days: int) -> None:
    while True:
        try:
            await idempotency.purge_older_than(days)
        except Exception as exc:
            log.warning("idempotency purge failed: %s", type(exc).__name__)
        await asyncio.sleep(3600)


async def retry_start(start: Callable[[], Awaitable[Any]], what: str, attempts: int = 30) -> None:
    """Start a client, retrying while the infrastructure comes up (a pod may start before Kafka)."""
    for attempt in range(1, attempts + 1):
        try:
            await start()
            return
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning("%s not available yet (%s), retrying", what, type(exc).__name__)
            await asyncio.sleep(min(5.0, 0.5 * attempt))
