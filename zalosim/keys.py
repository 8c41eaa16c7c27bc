"""Typed application state: every ``web.AppKey`` of the simulator, declared in one place."""

import aiohttp
from aiohttp import web

from zalosim.clock import SimClock
from zalosim.faults import FaultBook
from zalosim.settings import SimSettings
from zalosim.state import SimState
from zalosim.webhook import WebhookDispatcher

SETTINGS = web.AppKey("settings", SimSettings)
CLOCK = web.AppKey("clock", SimClock)
STATE = web.AppKey("state", SimState)
FAULTS = web.AppKey("faults", FaultBook)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
WEBHOOK = web.AppKey("webhook", WebhookDispatcher)
