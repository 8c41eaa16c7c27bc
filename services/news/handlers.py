"""Consumers of the news service: the subscriber registry, news preferences, delivery outcomes.

- `zalo.events.v1`: follow/unfollow (webhook and follower sync) build the registry; every inbound
  event moves the follower's last interaction forward; ward changes are mirrored as Zalo tags.
- `citizen.intents.v1`: news preferences (subscribe, unsubscribe, change_ward) and "latest", which is
  answered at once with the latest finished campaign's summary (conversation lane).
- `zalo.delivery.v1`: outcomes of the campaign commands, matched by the delivery id in `context`
  and the command id of the delivery's current attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts import CitizenIntent, DeliveryOutcome, OutboundCommand, ZaloEvent, citizen_key
from contracts.topics import CITIZEN_INTENTS, ZALO_DELIVERY, ZALO_EVENTS, ZALO_OUTBOUND, outbound_topic
from servicekit.consumer import Filtered
from servicekit.ids import derived_id
from servicekit.logs import pii
from servicekit.producer import Outgoing
from servicekit.registry import Registry
from services.news import domain
from services.news.auth import TokenVerifier
from services.news.domain import CampaignSpec, Subscriber, SubscriberChange
from services.news.settings import NewsSettings
from services.news.store import KeyedLocks, NewsStore

log = logging.getLogger("news.handlers")

PRODUCER = "news"
MEMBERSHIP = ("follow", "unfollow")
LATEST_CANDIDATES = 20


class NewsMetrics:
    """Metrics of the news service (the kit's consumer/HTTP metrics come on top)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry_changes = Counter(
            "zan_news_registry_changes_total",
            "Subscriber registry updates by change (follow, unfollow, sync_follow, interaction, subscribe,"
            " unsubscribe, change_ward, stale, replayed, unknown_ward).",
            ["change"],
            registry=registry,
        )
        self.commands = Counter(
            "zan_news_commands_total",
            "Commands produced on zalo.outbound.v1 by channel (article, direct, retry, tag, latest).",
            ["channel"],
            registry=registry,
        )
        self.skipped = Counter(
            "zan_news_skipped_total",
            "Direct messages not sent by the fan-out, by reason (unfollowed, opted_out, window_closed).",
            ["reason"],
            registry=registry,
        )
        self.broadcast_messages = Counter(
            "zan_news_broadcast_messages_total",
            "Campaign messages (direct and article broadcasts) by delivery outcome from zalo.delivery.v1: sent,"
            " failed, skipped, retry (failed, tried again later), stale (an older attempt's outcome).",
            ["outcome"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "zan_news_broadcasts_in_flight",
            "Campaigns started and not yet finished, paused or cancelled.",
            registry=registry,
        )
        self.transitions = Counter(
            "zan_news_campaign_transitions_total", "Campaign state changes by change.", ["change"], registry=registry
        )
        self.runners = Gauge("zan_news_runners", "Campaign runners active in this replica.", registry=registry)
        self.leases = Counter(
            "zan_news_lease_events_total", "Campaign leases acquired, lost, released.", ["event"], registry=registry
        )
        self.resumes = Counter(
            "zan_news_resumes_total",
            "Runs that continued a campaign another run had started (after a restart, pause or lost lease).",
            registry=registry,
        )
        self.plan_seconds = Histogram(
            "zan_news_plan_duration_seconds",
            "Time to plan the direct messages of a campaign (stream the audience, write delivery records).",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
            registry=registry,
        )
        self.slice_seconds = Histogram(
            "zan_news_send_slice_duration_seconds",
            "Time to check, record and produce one slice of direct messages.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.lifecycle_published = Counter(
            "zan_news_lifecycle_published_total",
            "Records published on news.broadcasts.v1 by change.",
            ["change"],
            registry=registry,
        )


@dataclass
class Deps:
    """Everything the handlers, the API and the fan-out share (never the producer: see fanout)."""

    settings: NewsSettings
    store: NewsStore
    registry: Registry
    metrics: NewsMetrics
    verifier: TokenVerifier
    clock: Callable[[], datetime]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    locks: KeyedLocks = field(default_factory=KeyedLocks)


def _event_time(ts_ms: int, now: datetime) -> datetime:
    """Zalo's event time, never later than our clock (a skewed timestamp must not open a window)."""
    at = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return min(at, now)


def _tag_commands(change: SubscriberChange, event_id: str, correlation_id: str, now: datetime) -> list[Outgoing]:
    s = change.subscriber
    out = []
    for op in change.tags:
        command_id = domain.tag_command_id(event_id, op, s.oa_id, s.user_id)
        cmd = OutboundCommand(
            event_id=derived_id("news-cmd", command_id),
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=correlation_id,
            command_id=command_id,
            oa_id=s.oa_id,
            user_id=s.user_id,
            action=op.action,
            lane="campaign",
            tag_name=op.tag_name,
            context={"service": PRODUCER, "purpose": "ward_tag"},
        )
        out.append(Outgoing(outbound_topic(cmd.lane), citizen_key(s.oa_id, s.user_id), cmd))
    return out


async def _apply(
    deps: Deps, current: Subscriber | None, change: SubscriberChange, label: str, event_id: str, corr: str
) -> list[Outgoing]:
    now = deps.clock()
    if change.write:
        await deps.store.save_subscriber(current, change.subscriber, now)
    key = change.subscriber.key
    if change.suppress:
        await deps.store.suppress(key, change.suppress, now)
    if change.release:
        await deps.store.release(key, change.release)
    deps.metrics.registry_changes.labels(change.ignored or label).inc()
    out = _tag_commands(change, event_id, corr, now)
    if out:
        deps.metrics.commands.labels("tag").inc(len(out))
    return out


async def on_zalo_event(event: ZaloEvent, deps: Deps) -> list[Outgoing]:
    if not event.user_id or not event.oa_id:
        return []
    now = deps.clock()
    key = citizen_key(event.oa_id, event.user_id)
    if event.direction == "inbound":
        async with deps.locks(key):
            await deps.store.touch_interaction(event.oa_id, event.user_id, _event_time(event.zalo_timestamp_ms, now))
        deps.metrics.registry_changes.labels("interaction").inc()
        return []
    if event.event_name not in MEMBERSHIP:
        return []
    async with deps.locks(key):
        out = await _membership(event, deps, now)
        if event.event_name == "follow" and not event.sync:
            # Following opens the interaction window (zalo-oa-api.md §4.2, [U]: one of the two lists says
            # so, and the simulator follows it); a follower sync replays history and opens nothing.
            await deps.store.touch_interaction(event.oa_id, event.user_id, _event_time(event.zalo_timestamp_ms, now))
    return out


async def _membership(event: ZaloEvent, deps: Deps, now: datetime) -> list[Outgoing]:
    assert event.user_id is not None
    oa = deps.registry.by_id(event.oa_id)
    if oa is None:
        log.warning("follow event of an OA missing from the registry", extra={"event": event.event_name})
        return []
    current = await deps.store.get_subscriber(citizen_key(event.oa_id, event.user_id))
    if event.event_name == "follow":
        change = domain.on_follow(
            current,
            oa_id=event.oa_id,
            user_id=event.user_id,
            oa_ward=oa.ward if oa.kind in ("ward", "commune") else None,
            ts_ms=event.zalo_timestamp_ms,
            event_id=event.event_id,
            now=now,
        )
        label = "sync_follow" if event.sync else "follow"
    else:
        change = domain.on_unfollow(
            current,
            oa_id=event.oa_id,
            user_id=event.user_id,
            ts_ms=event.zalo_timestamp_ms,
            event_id=event.event_id,
            now=now,
        )
        label = "unfollow"
    log.info("registry change", extra={"change": change.ignored or label, "oa": oa.key, "user": pii(event.user_id)})
    return await _apply(deps, current, change, label, event.event_id, event.correlation_id)


async def on_citizen_intent(intent: CitizenIntent, deps: Deps) -> list[Outgoing]:
    pref = intent.preference
    if pref is None:
        return []
    if pref.action == "latest":
        return [await _latest_reply(intent, deps)]
    async with deps.locks(citizen_key(intent.oa_id, intent.user_id)):
        return await _preference(intent, deps)


async def _preference(intent: CitizenIntent, deps: Deps) -> list[Outgoing]:
    pref = intent.preference
    assert pref is not None
    current = await deps.store.get_subscriber(citizen_key(intent.oa_id, intent.user_id))
    change = domain.on_preference(
        current,
        pref,
        oa_id=intent.oa_id,
        user_id=intent.user_id,
        registry=deps.registry,
        event_id=intent.event_id,
    )
    log.info("news preference", extra={"action": pref.action, "user": pii(intent.user_id), "ignored": change.ignored})
    return await _apply(deps, current, change, pref.action, intent.event_id, intent.correlation_id)


async def _latest_reply(intent: CitizenIntent, deps: Deps) -> Outgoing:
    subscriber = await deps.store.get_subscriber(citizen_key(intent.oa_id, intent.user_id))
    chosen: tuple[str, CampaignSpec] | None = None
    for doc in await deps.store.finished_campaigns(LATEST_CANDIDATES):
        spec = CampaignSpec.model_validate(doc["spec"])
        if domain.visible_to(spec.target, deps.registry, subscriber, intent.oa_id):
            chosen = (doc["_id"], spec)
            break
    command_id = derived_id("news-latest", intent.event_id)
    context = {"service": PRODUCER, "purpose": "news_latest"}
    if chosen:
        context["campaign_id"] = chosen[0]
    cmd = OutboundCommand(
        event_id=derived_id("news-cmd", command_id),
        occurred_at=deps.clock(),
        producer=PRODUCER,
        correlation_id=intent.correlation_id,
        command_id=command_id,
        oa_id=intent.oa_id,
        user_id=intent.user_id,
        action="send",
        lane="conversation",
        message=domain.latest_message(chosen[1] if chosen else None),
        context=context,
    )
    deps.metrics.commands.labels("latest").inc()
    return Outgoing(ZALO_OUTBOUND, citizen_key(intent.oa_id, intent.user_id), cmd)


async def on_delivery(outcome: DeliveryOutcome, deps: Deps) -> list[Outgoing]:
    ctx = outcome.context
    delivery_id = ctx.get("delivery_id")
    if ctx.get("service") != PRODUCER or not delivery_id:
        return []  # another service's command, or one of our tag/latest commands
    delivery = await deps.store.get_delivery(delivery_id)
    if delivery is None or delivery.get("command_id") != outcome.command_id:
        deps.metrics.broadcast_messages.labels("stale").inc()
        return []
    now = deps.clock()
    attempt = int(delivery.get("attempt", 1))
    # A broadcast is tried again only when the egress says it certainly did not happen (`retryable`: it failed
    # before the broadcast call, e.g. Zalo down while creating the article); one that may have gone out
    # (a 5xx or timeout on the broadcast call itself) is never retryable, so never repeated.
    max_attempts = deps.settings.dm_max_attempts
    status = domain.classify_outcome(outcome.status, outcome.retryable, attempt, max_attempts)
    fields: dict[str, object] = {
        "status": status,
        "stage": "outcome",
        "reason": domain.skip_reason_of(outcome.reason) if status == "skipped" else outcome.reason,
        "zalo_error": outcome.zalo_error,
        "outcome_at": now,
        "zalo_message_id": outcome.zalo_message_id,
        "article_id": outcome.article_id,
    }
    if status == "retry":
        fields["retry_at"] = now + timedelta(seconds=deps.settings.dm_retry_delay_s)
    applied = await deps.store.apply_outcome(delivery_id, outcome.command_id, fields)
    if applied and status == "retry" and ctx.get("campaign_id"):
        await deps.store.hint_retry(ctx["campaign_id"], fields["retry_at"])  # type: ignore[arg-type]
    deps.metrics.broadcast_messages.labels(status if applied else "stale").inc()
    return []


HANDLERS = {
    # An inbound message only moves the interaction time forward (`$max`): harmless twice, so unguarded.
    ZALO_EVENTS: Filtered(
        on_zalo_event,
        lambda e: e.direction == "inbound" or e.event_name in MEMBERSHIP,
        guarded=lambda e: e.event_name in MEMBERSHIP,
    ),
    # Most classified messages are not about news: only preference changes reach the handler.
    CITIZEN_INTENTS: Filtered(on_citizen_intent, lambda i: i.preference is not None),
    ZALO_DELIVERY: Filtered(on_delivery, lambda o: o.context.get("service") == PRODUCER),
}
