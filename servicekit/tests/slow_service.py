"""A minimal service built with the kit, run as a process by the drain test.

Its handler records when it starts and finishes each record and takes a while in between, so a
SIGTERM can land while a record is in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic_settings import SettingsConfigDict

from contracts import ZaloEvent
from contracts.topics import ZALO_EVENTS
from servicekit.runner import serve
from servicekit.service import Kit, service_app
from servicekit.settings import ServiceSettings


class SlowSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SLOW_", extra="ignore", frozen=True)
    handler_seconds: float = 2.0


async def handle(event: ZaloEvent, kit: Kit) -> list:
    db = kit.db
    assert db is not None
    await db.progress.insert_one({"event_id": event.event_id, "stage": "started"})
    await asyncio.sleep(kit.settings.handler_seconds)  # type: ignore[attr-defined]
    await db.progress.insert_one({"event_id": event.event_id, "stage": "finished"})
    return []


async def deps(kit: Kit) -> AsyncIterator[Kit]:
    yield kit


def main() -> None:
    settings = SlowSettings()
    serve(service_app(settings, routes={ZALO_EVENTS: handle}, deps=deps), settings)


if __name__ == "__main__":
    main()
