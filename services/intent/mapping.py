"""Pure translation between the topics' contracts and the conversation's own types."""

from __future__ import annotations

from contracts import (
    Button,
    CitizenIntent,
    HandoffEvent,
    IntentEntities,
    Location,
    Message,
    NewsPreference,
    OutboundCommand,
    ReportAttachment,
    ReportSubmitted,
    StatusRequested,
    ZaloEvent,
    citizen_key,
)
from contracts.topics import (
    CITIZEN_INTENTS,
    CONVERSATION_HANDOFFS,
    REPORTS_STATUS_REQUESTS,
    REPORTS_SUBMITTED,
    ZALO_OUTBOUND,
)
from servicekit.ids import derived_id
from servicekit.producer import Outgoing
from services.intent.conversation.model import (
    EmergencyAlert,
    GeoPoint,
    HandoffReleased,
    HandoffRequested,
    Inbound,
    InboundKind,
    IntentObserved,
    StatusRequest,
    SubmitReport,
    Turn,
)
from services.intent.conversation.model import (
    NewsPreference as NewsPreferenceEffect,
)

PRODUCER = "intent"

_MEDIA_KINDS = {
    "user_send_image": InboundKind.IMAGE,
    "user_send_gif": InboundKind.IMAGE,
    "user_send_file": InboundKind.FILE,
    "user_send_video": InboundKind.FILE,
    "user_send_audio": InboundKind.FILE,
    "user_send_sticker": InboundKind.STICKER,
}


def inbound_of(event: ZaloEvent) -> Inbound | None:
    """What the conversation should see of a Zalo event; None for echoes, receipts, syncs and the unknown."""
    if event.oa_key == "unregistered" or not event.user_id:
        return None
    name = event.event_name
    if event.direction == "management":
        if event.sync or name not in ("follow", "unfollow"):
            return None  # a follower sync must never greet thousands of existing followers
        return Inbound(event_id=event.event_id, kind=name)
    if event.direction != "inbound":
        return None  # oa_send_* echoes and delivery/seen receipts never trigger a reply
    if name == "user_send_location" and event.location is not None:
        return Inbound(
            event_id=event.event_id,
            kind=InboundKind.LOCATION,
            location=GeoPoint(lat=event.location.latitude, lon=event.location.longitude),
            place_name=event.location.name,
        )
    if name in _MEDIA_KINDS:
        urls = tuple(a.url for a in event.attachments if a.url)
        return Inbound(event_id=event.event_id, kind=_MEDIA_KINDS[name], urls=urls, text=event.text or "")
    if name == "user_submit_info":
        return Inbound(event_id=event.event_id, kind=InboundKind.SUBMIT_INFO, info=_flat(event.submitted_info or {}))
    if event.text:
        return Inbound(event_id=event.event_id, kind=InboundKind.TEXT, text=event.text)
    if name == "user_send_link":
        urls = tuple(a.url for a in event.attachments if a.url)
        return Inbound(event_id=event.event_id, kind=InboundKind.TEXT, text=" ".join(urls) or "link")
    return None


def release_of(event: HandoffEvent) -> Inbound | None:
    """An officer handed the conversation back to the bot."""
    if event.change != "released" or event.producer == PRODUCER:
        return None
    return Inbound(event_id=event.event_id, kind=InboundKind.RELEASE)


def _flat(info: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update(_flat(v))
        elif v is not None:
            out[str(k)] = str(v)
    return out


def outputs_of(
    turn: Turn, *, oa_id: str, user_id: str, ward: str | None, cause_id: str, correlation_id: str, now
) -> list[Outgoing]:
    """The records one turn publishes, in order: replies first (the emergency reply is the first of them)."""
    key = citizen_key(oa_id, user_id)
    base = {"occurred_at": now, "producer": PRODUCER, "correlation_id": correlation_id}
    out: list[Outgoing] = []
    for i, reply in enumerate(turn.replies):
        cid = derived_id("intent-reply", cause_id, i)
        message = Message(
            text=reply.text,
            buttons=[Button(title=b.title, kind=b.kind, payload=b.payload) for b in reply.buttons],
        )
        command = OutboundCommand(
            **base,
            event_id=cid,
            command_id=cid,
            oa_id=oa_id,
            user_id=user_id,
            lane="conversation",
            message=message,
            context={"service": PRODUCER},  # echoed on the outcome: the intent service's replies come back to it
        )
        out.append(Outgoing(ZALO_OUTBOUND, key, command))

    emergencies = {e.submission_id for e in turn.effects if isinstance(e, EmergencyAlert)}
    preference = next((e for e in turn.effects if isinstance(e, NewsPreferenceEffect)), None)
    observed = False
    for effect in turn.effects:
        if isinstance(effect, SubmitReport):
            record = ReportSubmitted(
                **base,
                event_id=derived_id("intent-submit", effect.submission_id),
                submission_id=effect.submission_id,
                oa_id=oa_id,
                user_id=user_id,
                kind=effect.kind,
                category=effect.category,
                description=effect.description[:5000] or "(không có mô tả)",
                occurred_at_text=effect.occurred_at_text,
                place_text=effect.place_text,
                ward=ward,
                location=Location(latitude=effect.location.lat, longitude=effect.location.lon)
                if effect.location
                else None,
                attachments=[ReportAttachment(url=u) for u in effect.attachments[:20]],
                anonymous=effect.anonymous,
                urgent=effect.urgent,
                source="emergency" if effect.submission_id in emergencies else "form",
            )
            out.append(Outgoing(REPORTS_SUBMITTED, key, record))
        elif isinstance(effect, StatusRequest):
            out.append(
                Outgoing(
                    REPORTS_STATUS_REQUESTS,
                    key,
                    StatusRequested(
                        **base,
                        event_id=derived_id("intent-status", cause_id),
                        oa_id=oa_id,
                        user_id=user_id,
                        case_code=effect.case_code,
                    ),
                )
            )
        elif isinstance(effect, HandoffRequested | HandoffReleased):
            requested = isinstance(effect, HandoffRequested)
            out.append(
                Outgoing(
                    CONVERSATION_HANDOFFS,
                    key,
                    HandoffEvent(
                        **base,
                        event_id=derived_id("intent-handoff", cause_id, effect.type),
                        oa_id=oa_id,
                        user_id=user_id,
                        change="requested" if requested else "released",
                        by="citizen" if requested else str(effect.reason),
                        reason=effect.reason if requested else None,
                    ),
                )
            )
        elif isinstance(effect, IntentObserved):
            observed = True
            out.append(
                Outgoing(CITIZEN_INTENTS, key, _intent_record(base, cause_id, oa_id, user_id, effect, preference))
            )
    if preference is not None and not observed:
        out.append(Outgoing(CITIZEN_INTENTS, key, _intent_record(base, cause_id, oa_id, user_id, None, preference)))
    return out


def _intent_record(base, cause_id, oa_id, user_id, observed: IntentObserved | None, preference) -> CitizenIntent:
    return CitizenIntent(
        **base,
        event_id=derived_id("intent-observed", cause_id),
        oa_id=oa_id,
        user_id=user_id,
        intent=observed.intent if observed else "news",
        confidence=observed.confidence if observed else 1.0,
        entities=IntentEntities(
            ward=observed.entities.ward,
            unit=observed.entities.unit,
            case_code=observed.entities.case_code,
            subcases=list(observed.entities.subcases),
        )
        if observed
        else IntentEntities(),
        preference=NewsPreference(action=preference.action, ward=preference.ward) if preference else None,
    )
