"""Runs a service app until SIGTERM/SIGINT, then lets its cleanup contexts drain it."""

from __future__ import annotations

from aiohttp import web

from servicekit.logs import configure_logging
from servicekit.settings import ServiceSettings


def serve(app: web.Application, settings: ServiceSettings) -> None:
    """Serve on the configured address. aiohttp turns SIGTERM into an orderly shutdown."""
    configure_logging(settings.service_name, settings.log_level, settings.pii_salt.get_secret_value())
    web.run_app(
        app,
        host=settings.http_host,
        port=settings.http_port,
        print=None,
        access_log=None,
        shutdown_timeout=5.0,
        handle_signals=True,
    )
