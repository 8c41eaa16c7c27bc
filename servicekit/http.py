"""Standard HTTP surface: /healthz, /readyz, /metrics, and request metrics for every route."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from servicekit.metrics import KitMetrics

ReadinessCheck = Callable[[], Awaitable[bool]]


def metrics_middleware(metrics: KitMetrics) -> web.middleware:
    """Count and time every request by its route template (never by raw path: ids are not labels)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.http_requests.labels(route, request.method, str(status)).inc()
            metrics.http_latency.labels(route, request.method).observe(time.perf_counter() - started)

    return middleware


def add_health_routes(app: web.Application, metrics: KitMetrics, checks: Mapping[str, ReadinessCheck]) -> None:
    """/healthz: the process answers. /readyz: every dependency check passes (503 with details if not)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        names = list(checks)
        results = await asyncio.gather(*(checks[n]() for n in names), return_exceptions=True)
        status = {n: (r is True) for n, r in zip(names, results, strict=True)}
        ok = all(status.values())
        metrics.ready.set(1 if ok else 0)
        return web.json_response({"ready": ok, "checks": status}, status=200 if ok else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
