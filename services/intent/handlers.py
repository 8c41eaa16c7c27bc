"""What the intent service does with each consumed record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter

from contracts import DeliveryOutcome, HandoffEvent, OutboundCommand, ZaloEvent, citizen_key
from contracts.topics import CONVERSATION_HANDOFFS, ZALO_DELIVERY, ZALO_EVENTS, ZALO_OUTBOUND
from servicekit.consumer import Filtered, self_deduplicating
from servicekit.ids import derived_id
from servicekit.logs import pii
from servicekit.producer import Outgoing, encode
from servicekit.registry import Registry
from services.intent.conversation.model import (
    Conversation,
    Directory,
    EmergencyAlert,
    Inbound,
    InboundKind,
    TurnContext,
)
from services.intent.domain import converse
from services.intent.knowledge import KnowledgeBase
from services.intent.mapping import PRODUCER, inbound_of, outputs_of, release_of
from services.intent.nlu.understand import understand
from services.intent.settings import IntentSettings
from services.intent.store import ConversationStore

log = logging.getLogger("intent.handlers")


class IntentMetrics:
    def __init__(self, registry) -> None:
        self.emergencies = Counter(
            "zan_intent_emergencies_total", "Emergency messages answered and alerted, by OA.", ["oa"], registry=registry
        )
        self.classified = Counter(
            "zan_intent_classified_total", "Messages classified, by intent.", ["intent"], registry=registry
        )
        self.replays = Counter(
            "zan_intent_turn_replays_total",
            "Redeliveries that re-emitted a stored turn instead of running it again.",
            registry=registry,
        )
        self.reply_resends = Counter(
            "zan_intent_reply_resends_total",
            "Replies the egress gave up on for a retryable reason: resent, superseded by a newer turn, or given up.",
            ["result"],
            registry=registry,
        )


@dataclass
class IntentDeps:
    settings: IntentSettings
    store: ConversationStore
    knowledge: KnowledgeBase
    directory: Directory
    registry: Registry
    metrics: IntentMetrics
    clock: Callable[[], datetime]


async def on_zalo_event(event: ZaloEvent, deps: IntentDeps) -> list[Outgoing]:
    inbound = inbound_of(event)
    if inbound is None or event.user_id is None:
        return []
    return await run_turn(deps, event.oa_id, event.user_id, inbound, event.correlation_id)


async def on_handoff(event: HandoffEvent, deps: IntentDeps) -> list[Outgoing]:
    inbound = release_of(event)
    if inbound is None:
        return []
    return await run_turn(deps, event.oa_id, event.user_id, inbound, event.correlation_id)


async def run_turn(deps: IntentDeps, oa_id: str, user_id: str, inbound: Inbound, correlation_id: str) -> list[Outgoing]:
    oa = deps.registry.by_id(oa_id)
    if oa is None:
        return []
    key = citizen_key(oa_id, user_id)
    stored = await deps.store.load(key)
    if stored is not None and stored.last_event_id == inbound.event_id:
        deps.metrics.replays.inc()
        return [_decode(o) for o in stored.last_outputs]
    state = Conversation.model_validate(stored.state) if stored else Conversation.start(oa.key, user_id)
    if state.has_handled(inbound.event_id):
        # Handled before the last turn, so its outputs were published before that turn ran (one key's
        # records are handled in order): nothing to do, and no write that would hide the last turn's outputs.
        deps.metrics.replays.inc()
        return []

    understood = None
    if inbound.kind == InboundKind.TEXT and not inbound.is_command:
        understood = understand(inbound.text)
    now = deps.clock()
    ctx = TurnContext(
        now=now,
        oa_key=oa.key,
        directory=deps.directory,
        knowledge=deps.knowledge,
        form_expiry=timedelta(seconds=deps.settings.form_expiry_s),
        handoff_timeout=timedelta(seconds=deps.settings.handoff_timeout_s),
        min_confidence=deps.settings.min_confidence,
    )
    turn = converse(state, inbound, understood, ctx)
    outputs = outputs_of(
        turn,
        oa_id=oa_id,
        user_id=user_id,
        ward=oa.ward,
        cause_id=inbound.event_id,
        correlation_id=correlation_id,
        now=now,
    )
    await deps.store.save(
        key,
        turn.state.model_dump(mode="json"),
        stored.version if stored else 0,
        inbound.event_id,
        [_encode(o) for o in outputs],
        now,
    )
    if understood is not None:
        deps.metrics.classified.labels(understood.intent).inc()
    for effect in turn.effects:
        if isinstance(effect, EmergencyAlert):
            deps.metrics.emergencies.labels(oa.key).inc()
            log.warning(
                "emergency alert raised", extra={"oa": oa.key, "user": pii(user_id), "category": effect.category}
            )
    return outputs


def _encode(o: Outgoing) -> dict:
    return {"topic": o.topic, "key": o.key, "model": type(o.event).__name__, "value": encode(o.event).decode()}


def _decode(d: dict) -> Outgoing:
    from contracts.topics import MODELS

    return Outgoing(d["topic"], d["key"], MODELS[d["model"]].model_validate_json(d["value"]))


def wants_resend(outcome: DeliveryOutcome) -> bool:
    """Our own replies that failed for a reason that may pass (Zalo down, rate limits, a token being renewed)."""
    return outcome.context.get("service") == PRODUCER and outcome.status == "failed" and outcome.retryable


async def on_delivery(outcome: DeliveryOutcome, deps: IntentDeps) -> list[Outgoing]:
    """Send again a reply of the citizen's latest turn that the egress gave up on (a final outcome is final for its
    command id, so the retry is a new command). A reply of an older turn is not sent again: the citizen has
    written since and got newer answers, and an old one arriving late would only confuse."""
    if outcome.user_id is None:
        return []
    original = outcome.context.get("reply_of", outcome.command_id)
    tries = int(outcome.context.get("resend", "0"))
    if tries >= deps.settings.reply_resends:
        deps.metrics.reply_resends.labels("given_up").inc()
        log.error("reply given up", extra={"command_id": original, "reason": outcome.reason, "resends": tries})
        return []
    stored = await deps.store.load(citizen_key(outcome.oa_id, outcome.user_id))
    failed = next(
        (
            o.event
            for o in map(_decode, stored.last_outputs if stored else [])
            if isinstance(o.event, OutboundCommand) and o.event.command_id == original
        ),
        None,
    )
    if failed is None:
        deps.metrics.reply_resends.labels("superseded").inc()
        return []
    cid = derived_id("intent-resend", original, tries + 1)
    again = failed.model_copy(
        update={
            "event_id": cid,
            "command_id": cid,
            "occurred_at": deps.clock(),
            "context": {**failed.context, "reply_of": original, "resend": str(tries + 1)},
        }
    )
    deps.metrics.reply_resends.labels("resent").inc()
    log.warning("reply sent again", extra={"command_id": original, "reason": outcome.reason, "resend": tries + 1})
    return [Outgoing(ZALO_OUTBOUND, citizen_key(outcome.oa_id, outcome.user_id), again)]


HANDLERS = {
    # The conversation document records the last event ids in the same write as the turn's state (and the
    # last turn's outputs, re-emitted on redelivery): stronger than the kit's store, and it is on the reply's path.
    ZALO_EVENTS: self_deduplicating(on_zalo_event, lambda e: e.direction in ("inbound", "management")),
    CONVERSATION_HANDOFFS: on_handoff,
    # Most outcomes are other services' (campaigns): refused before the idempotency store.
    ZALO_DELIVERY: Filtered(on_delivery, wants_resend),
}
