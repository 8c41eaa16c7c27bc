"""Typed application state of the console (every AppKey in one place)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from services.console.settings import ConsoleSettings


@dataclass
class ConsoleState:
    """Settings, the page configuration and the upstream HTTP client (set while the app runs)."""

    settings: ConsoleSettings
    known_units: frozenset[str]
    config: dict[str, Any] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None


CONSOLE = web.AppKey("console", ConsoleState)
