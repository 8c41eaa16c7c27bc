"""Follower sync: publish one `follow` ZaloEvent (sync=True) per follower of an OA that existed before
this system, so that the news service can build its registry.

    python -m services.gateway.sync --oa tanphu [--oa sonky ...]
    python -m services.gateway.sync --all

Pages through `/v3.0/oa/user/getlist` with `is_follower=true`, 50 per page. Zalo caps `offset` at
9951 ([C] §6.2), so one listing reaches 10,000 users; an OA with more followers is walked in
segments of `last_interaction_period` date ranges, halved until each holds at most 10,000. A single
day with more than 10,000 followers cannot be listed completely (the rest is counted as `capped`);
neither can followers Zalo keeps no interaction date for. Event ids are derived from (OA, user), so
a rerun (after a crash or a week later) publishes the same ids and consumers deduplicate. Calls go
through the egress's token manager and its shared rate limiter (campaign lane), so a sync never
pushes the app over Zalo's limit while the egress is sending.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from prometheus_client import CollectorRegistry

from contracts import ZaloEvent, citizen_key, utcnow
from contracts.topics import ZALO_EVENTS
from servicekit.ids import derived_id
from servicekit.logs import configure_logging
from servicekit.metrics import KitMetrics
from servicekit.mongo import make_client
from servicekit.producer import EventProducer, Outgoing
from servicekit.registry import OfficialAccount, Registry, load_registry
from services.gateway import zalo_api
from services.gateway.delivery import CallBudget, CallFailed
from services.gateway.egress import ZaloStack, zalo_stack
from services.gateway.settings import EgressSettings

log = logging.getLogger("gateway.sync")

PRODUCER = "gateway-sync"
LANE = "campaign"

Fetch = Callable[[str | None, int], Awaitable[tuple[int, list[str]]]]
Publish = Callable[[list[str], str | None], Awaitable[None]]


@dataclass
class SyncReport:
    """What one OA's sync did."""

    oa_key: str
    followers_reported: int = 0
    published: int = 0
    pages: int = 0
    segments: int = 0
    capped: int = 0
    error: str | None = None


def follow_event(oa: OfficialAccount, app_id: str, user_id: str, segment: str | None, now: datetime) -> ZaloEvent:
    """The `follow` event of a listed follower; its id depends only on (OA, user)."""
    event_id = "zalo-sync:" + derived_id("follow", oa.oa_id, user_id)
    return ZaloEvent(
        event_id=event_id,
        occurred_at=now,
        producer=PRODUCER,
        correlation_id=event_id,
        app_id=app_id,
        oa_id=oa.oa_id,
        oa_key=oa.key,
        user_id=user_id,
        event_name="follow",
        direction="management",
        zalo_timestamp_ms=int(now.timestamp() * 1000),  # when listed: Zalo does not say when they followed
        sync=True,
        raw={"source": zalo_api.USER_GETLIST_PATH, "segment": segment or "all"},
    )


async def walk_followers(
    fetch: Fetch,
    publish: Publish,
    report: SyncReport,
    *,
    today: date,
    page_size: int = zalo_api.GETLIST_COUNT_MAX,
    offset_cap: int = zalo_api.GETLIST_OFFSET_MAX,
    first_day: date = zalo_api.FIRST_INTERACTION_DATE,
) -> None:
    """List every reachable follower once: the whole list if it fits under the offset cap, else
    date segments of last_interaction_period, halved until each fits."""
    reachable = (offset_cap // page_size) * page_size + page_size

    async def pages(segment: str | None, total: int, first: list[str]) -> None:
        report.segments += 1
        await publish(first, segment)
        offset = page_size
        while offset < min(total, reachable):
            _, ids = await fetch(segment, offset)
            report.pages += 1
            if not ids:
                break
            await publish(ids, segment)
            offset += page_size

    async def segment(first: date, last: date) -> None:
        period = zalo_api.period_range(first, last)
        total, ids = await fetch(period, 0)
        report.pages += 1
        if total == 0:
            return
        if total > reachable and first < last:
            middle = first + (last - first) // 2
            await segment(first, middle)
            await segment(middle + timedelta(days=1), last)
            return
        if total > reachable:
            report.capped += total - reachable
            log.warning("more followers in one day than Zalo lets us list", extra={"segment": period, "total": total})
        await pages(period, total, ids)

    total, ids = await fetch(None, 0)
    report.pages += 1
    report.followers_reported = total
    if total <= reachable:
        await pages(None, total, ids)
    else:
        await segment(first_day, today)


async def sync_oa(
    stack: ZaloStack,
    producer: EventProducer,
    registry: Registry,
    oa: OfficialAccount,
    settings: EgressSettings,
    *,
    clock: Callable[[], datetime] = utcnow,
    offset_cap: int = zalo_api.GETLIST_OFFSET_MAX,
) -> SyncReport:
    report = SyncReport(oa.key)

    async def fetch(segment: str | None, offset: int) -> tuple[int, list[str]]:
        budget = CallBudget(deadline=time.monotonic() + settings.command_deadline_s)
        request = zalo_api.render_getlist(offset, zalo_api.GETLIST_COUNT_MAX, segment)
        body = await stack.caller.call(oa, LANE, request, budget)
        return zalo_api.parse_getlist(body)

    async def publish(user_ids: list[str], segment: str | None) -> None:
        now = clock()
        records = [
            Outgoing(ZALO_EVENTS, citizen_key(oa.oa_id, uid), follow_event(oa, registry.app_id, uid, segment, now))
            for uid in user_ids
        ]
        await producer.publish_all(records)
        report.published += len(records)
        stack.metrics.follows_synced.labels(oa.key).inc(len(records))

    today = clock().astimezone(zalo_api.VN_TZ).date()
    try:
        await walk_followers(fetch, publish, report, today=today, offset_cap=offset_cap)
    except CallFailed as exc:
        report.error = f"{exc.verdict.reason} {exc.verdict.zalo_error or ''} {exc.detail or ''}".strip()
        log.error("follower sync stopped", extra={"oa": oa.key, "error": report.error})
    log.info("follower sync finished", extra=asdict(report))
    return report


async def sync_followers(
    settings: EgressSettings,
    oa_keys: Sequence[str],
    *,
    registry: Registry | None = None,
    clock: Callable[[], datetime] = utcnow,
    offset_cap: int = zalo_api.GETLIST_OFFSET_MAX,
) -> list[SyncReport]:
    """Sync the given OAs one after the other (their calls share the app's rate limit anyway)."""
    registry = registry or load_registry(settings.registry_path, settings.ward_mergers_path)
    oas = [registry.by_key(k) for k in oa_keys]
    prometheus = CollectorRegistry()
    mongo = make_client(settings)
    producer = EventProducer(settings.kafka(), KitMetrics(prometheus), settings.topic_prefix, PRODUCER)
    await producer.start()
    try:
        async with zalo_stack(settings, mongo[settings.database], registry, prometheus, clock=clock) as stack:
            return [
                await sync_oa(stack, producer, registry, oa, settings, clock=clock, offset_cap=offset_cap) for oa in oas
            ]
    finally:
        await producer.stop()
        await mongo.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--oa", action="append", default=[], metavar="KEY", help="OA key (repeatable)")
    parser.add_argument("--all", action="store_true", help="every OA of the registry")
    args = parser.parse_args(argv)
    settings = EgressSettings()
    configure_logging(PRODUCER, settings.log_level, settings.pii_salt.get_secret_value())
    registry = load_registry(settings.registry_path, settings.ward_mergers_path)
    keys = [o.key for o in registry.oas] if args.all else args.oa
    unknown = [k for k in keys if k not in {o.key for o in registry.oas}]
    if not keys or unknown:
        parser.error(f"unknown OA keys: {unknown}" if unknown else "give --oa KEY or --all")
    reports = asyncio.run(sync_followers(settings, keys, registry=registry))
    for r in reports:
        print(json.dumps(asdict(r), ensure_ascii=False))
    return 1 if any(r.error for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
