"""Composition root of the intent service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from contracts import utcnow
from servicekit.service import Kit, service_app
from services.intent.conversation.model import Directory
from services.intent.handlers import HANDLERS, IntentDeps, IntentMetrics
from services.intent.knowledge import load_knowledge
from services.intent.nlu.understand import understand
from services.intent.settings import IntentSettings
from services.intent.store import ConversationStore


def create_app(settings: IntentSettings, clock: Callable[[], datetime] = utcnow) -> web.Application:
    async def make_deps(kit: Kit) -> AsyncIterator[IntentDeps]:
        assert kit.db is not None
        store = ConversationStore(kit.db)
        await store.ensure_indexes()
        registry_doc = json.loads(settings.registry_path.read_text(encoding="utf-8"))
        mergers_doc = (
            json.loads(settings.ward_mergers_path.read_text(encoding="utf-8"))
            if settings.ward_mergers_path.exists()
            else None
        )
        understand("xin chào")  # train the classifier before the first citizen waits for it
        yield IntentDeps(
            settings=settings,
            store=store,
            knowledge=load_knowledge(settings.knowledge_dir),
            directory=Directory.from_config(registry_doc, mergers_doc),
            registry=kit.oa_registry,
            metrics=IntentMetrics(kit.prometheus),
            clock=clock,
        )

    return service_app(settings, routes=HANDLERS, deps=make_deps)
