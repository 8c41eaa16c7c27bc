"""Composition root of the console: the kit's health and metrics, an HTTP client, pages, proxy, own API.

No MongoDB, no Kafka: the console keeps no state of its own and reads everything through the reports and
news APIs, whose audit logs record every call with the officer's identity.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from servicekit.registry import Registry
from servicekit.service import KIT, service_app
from services.console import api, domain, pages, proxy
from services.console.keys import CONSOLE, ConsoleState
from services.console.settings import ConsoleSettings


def create_app(settings: ConsoleSettings, *, registry: Registry | None = None) -> web.Application:
    """The console: static pages, `/api/{reports,news}/v1/…` proxied, `/console/api/…`."""
    app = service_app(
        settings,
        uses_mongo=False,
        uses_producer=False,
        extra_contexts=[_http_client_ctx],
        registry=registry,
        middlewares=[pages.csrf_guard],
    )
    oa_registry = app[KIT].oa_registry
    app[CONSOLE] = ConsoleState(
        settings=settings,
        known_units=frozenset(o.key for o in oa_registry.oas),
        config=domain.page_config(settings, oa_registry),
    )
    app.on_response_prepare.append(pages.security_headers)
    api.add_routes(app)
    proxy.add_routes(app)
    pages.add_routes(app)
    return app


async def _http_client_ctx(app: web.Application) -> AsyncIterator[None]:
    """One client for both APIs; no cookie jar (answers of one officer must never reach another)."""
    state = app[CONSOLE]
    settings = state.settings
    timeout = aiohttp.ClientTimeout(total=settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as http:
        state.http = http
        yield
        state.http = None
