"""Composition root: ``create_app(settings, clock=None) -> web.Application``."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from zalosim import control_handlers, keys, openapi_handlers
from zalosim.clock import SimClock
from zalosim.faults import FaultBook
from zalosim.ids import IdSource
from zalosim.registry import load_registry
from zalosim.settings import SimSettings
from zalosim.state import SimState
from zalosim.webhook import WebhookDispatcher

# Uploads above Zalo's 1 MB limit must reach the handler to be refused the Zalo way (-201),
# not by aiohttp's default 1 MiB body cap with HTTP 413.
MAX_REQUEST_BYTES = 20 * 1024 * 1024


async def http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    """The client session that carries webhook deliveries."""
    async with aiohttp.ClientSession() as session:
        app[keys.HTTP_SESSION] = session
        yield


async def webhook_ctx(app: web.Application) -> AsyncIterator[None]:
    """The webhook dispatcher and its retry scheduler task."""
    settings = app[keys.SETTINGS]
    dispatcher = WebhookDispatcher(
        app[keys.STATE],
        app[keys.HTTP_SESSION],
        app[keys.CLOCK],
        secret_for=settings.webhook_secret_for,
        timeout_seconds=settings.webhook_timeout_seconds,
        time_scale=settings.retry_time_scale,
    )
    app[keys.WEBHOOK] = dispatcher
    scheduler = asyncio.create_task(dispatcher.run(), name="zalosim-webhook-retries")
    yield
    scheduler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await scheduler
    await dispatcher.close()


def create_app(settings: SimSettings, clock: SimClock | None = None) -> web.Application:
    registry = load_registry(settings.resolved_registry_path())
    clock = clock or SimClock()
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock
    app[keys.STATE] = SimState(
        registry,
        IdSource(settings.seed),
        webhook_url=settings.webhook_url,
        rate_limit=settings.rate_limit,
        rate_window_seconds=settings.rate_window_seconds,
        max_records=settings.max_records,
    )
    app[keys.FAULTS] = FaultBook()
    app.cleanup_ctx.append(http_session_ctx)
    app.cleanup_ctx.append(webhook_ctx)
    control_handlers.add_routes(app)
    openapi_handlers.add_routes(app)  # last: it ends with the catch-all 404
    return app
