"""MongoDB through PyMongo's native async client (MongoDB 7 and FerretDB 1.24 compatible subset)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.settings import ServiceSettings


def make_client(settings: ServiceSettings, listeners: Sequence[object] = ()) -> AsyncMongoClient:
    """A client with short timeouts so that an outage surfaces in readiness, not in hung handlers."""
    ms = int(settings.mongo_timeout_s * 1000)
    return AsyncMongoClient(
        settings.mongo_uri.get_secret_value(),
        serverSelectionTimeoutMS=ms,
        connectTimeoutMS=ms,
        socketTimeoutMS=max(ms * 3, 10_000),
        appname=settings.service_name,
        tz_aware=True,
        event_listeners=list(listeners),
    )


async def ping(db: AsyncDatabase, timeout_s: float = 2.0) -> bool:
    """True when the server answers a ping within the timeout."""
    try:
        await asyncio.wait_for(db.command("ping"), timeout_s)
    except Exception:
        return False
    return True


def is_duplicate_key(exc: BaseException) -> bool:
    """True for E11000 (unique index violation), which means "already done" for idempotent writes."""
    code = getattr(exc, "code", None)
    if code == 11000:
        return True
    details = getattr(exc, "details", None) or {}
    errors = details.get("writeErrors", []) if isinstance(details, dict) else []
    return any(e.get("code") == 11000 for e in errors)
