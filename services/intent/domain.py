"""The intent service's conversation: a pure state machine from (state, inbound event) to a turn.

`converse` does no I/O and reads no clock: the caller classifies text with `understand()` (never button
payloads), passes the time and the registry in a `TurnContext`, stores the returned state and publishes
the replies and effects. Rules that hold in every state, in this order:

1. an event already handled returns an empty turn (redelivery);
2. an `emergency` message is answered first with the emergency numbers, raises an alert and an urgent
   report, and keeps any report form in progress;
3. while an officer has the conversation (handoff), the bot stays quiet until released or timed out;
4. a report form in progress takes the message, unless it is clearly about something else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.intent import texts
from services.intent.conversation import form as report_form
from services.intent.conversation import places, textmatch
from services.intent.conversation.directory import ward_reply
from services.intent.conversation.model import (
    Button,
    Contact,
    Conversation,
    Directory,
    Effect,
    EmergencyAlert,
    EntitiesLike,
    FormStep,
    GeoPoint,
    HandoffReleased,
    HandoffRequested,
    Inbound,
    InboundKind,
    IntentObserved,
    NewsPreference,
    OaProfile,
    ObservedEntities,
    Pending,
    Reply,
    ReportCategory,
    ReportDraft,
    ReportKind,
    StatusRequest,
    SubmitReport,
    Turn,
    TurnContext,
    UnderstandingLike,
)
from services.intent.conversation.turn import TurnBuilder, main_menu, submission_id
from services.intent.knowledge import KBEntry
from services.intent.texts import Cmd

if TYPE_CHECKING:
    from services.intent.knowledge import KnowledgeBase

__all__ = [
    "Button",
    "Contact",
    "Conversation",
    "Directory",
    "Effect",
    "EmergencyAlert",
    "EntitiesLike",
    "FormStep",
    "GeoPoint",
    "HandoffReleased",
    "HandoffRequested",
    "Inbound",
    "InboundKind",
    "IntentObserved",
    "NewsPreference",
    "OaProfile",
    "ObservedEntities",
    "Pending",
    "Reply",
    "ReportCategory",
    "ReportDraft",
    "ReportKind",
    "StatusRequest",
    "SubmitReport",
    "Turn",
    "TurnContext",
    "UnderstandingLike",
    "converse",
    "first_reply",
    "submission_id",
]

_KNOWN_KINDS = frozenset(InboundKind)
# Intents answered even at low confidence: a wrong guess costs nothing.
_SMALL_TALK = frozenset({"greeting", "thanks", "help"})
# At a button step of the form, these intents are not taken as a question about something else.
_NOT_A_DETOUR = frozenset({"report.crime", "report.public_order", "out_of_scope", "greeting", "thanks"})
_REPORT_KINDS: dict[str, ReportKind] = {"report.crime": "crime", "report.public_order": "public_order"}
_MAX_EMERGENCY_TEXT = 3000


def converse(state: Conversation, inbound: Inbound, understood: UnderstandingLike | None, ctx: TurnContext) -> Turn:
    """Handle one inbound event. `understood` is the classification of a text message, else None."""
    if state.has_handled(inbound.event_id):
        return Turn(state=state)
    turn = TurnBuilder(state.remember(inbound.event_id), inbound, ctx)
    classified = understood if inbound.kind == InboundKind.TEXT and not inbound.is_command else None
    if classified is not None:
        turn.emit(_observed(classified))
    _dispatch(turn, classified)
    return turn.done()


def _observed(understood: UnderstandingLike) -> IntentObserved:
    entities = understood.entities
    return IntentObserved(
        intent=understood.intent,
        confidence=understood.confidence,
        entities=ObservedEntities(
            ward=entities.ward,
            unit=entities.unit,
            case_code=entities.case_code,
            subcases=tuple(sorted(entities.subcases)),
        ),
    )


def _dispatch(t: TurnBuilder, understood: UnderstandingLike | None) -> None:
    kind = t.inbound.kind
    if kind == InboundKind.UNFOLLOW:
        if t.state.handoff_since is not None:
            t.emit(HandoffReleased(reason="unfollow"))
        t.update(form=None, pending=None, handoff_since=None)
        return
    if kind == InboundKind.RELEASE:
        _release(t)
        return
    if kind not in _KNOWN_KINDS:
        return  # defensive: an event kind this version does not know gets no reply
    if understood is not None and understood.intent == "emergency":
        _emergency(t)
        return
    if _silenced_by_handoff(t):
        return
    just_expired = _expire_form(t)
    pending = t.state.pending
    if pending is not None:
        t.update(pending=None)

    if kind == InboundKind.FOLLOW:
        _welcome(t)
    elif t.inbound.is_command:
        _command(t, t.inbound.command_text, just_expired=just_expired)
    elif kind == InboundKind.TEXT:
        if t.inbound.text.strip():
            _text(t, understood, pending)
    elif kind == InboundKind.LOCATION:
        _location(t)
    elif kind in (InboundKind.IMAGE, InboundKind.FILE):
        _attachments(t)
    elif kind == InboundKind.STICKER:
        if t.form is not None:
            t.send(report_form.reminder(t.form))
        else:
            t.say(texts.STICKER, main_menu())
    elif kind == InboundKind.SUBMIT_INFO:
        t.say(texts.INFO_RECEIVED)


# --- Emergency, handoff, expiry ---------------------------------------------------------------------


def _emergency(t: TurnBuilder) -> None:
    text = t.inbound.text.strip()
    sid = t.submission_id("emergency")
    category = textmatch.infer_category(text)
    t.say(
        texts.EMERGENCY.format(oa_name=t.ctx.oa.display_name),
        (
            Button.phone(texts.BTN_CALL_113, "113"),
            Button.phone(texts.BTN_CALL_114, "114"),
            Button.phone(texts.BTN_CALL_115, "115"),
        ),
    )
    t.emit(EmergencyAlert(category=category, oa_key=t.ctx.oa_key, submission_id=sid))
    t.emit(
        SubmitReport(
            submission_id=sid,
            kind="crime",
            category=category,
            description=text[:_MAX_EMERGENCY_TEXT],
            urgent=True,
        )
    )
    if t.form is not None and not _expire_form(t):
        # The emergency interrupted the form: keep it alive and say where the citizen was.
        t.update(form=t.form.model_copy(update={"updated_at": t.ctx.now}))
        t.send(report_form.reminder(t.form))


def _silenced_by_handoff(t: TurnBuilder) -> bool:
    since = t.state.handoff_since
    if since is None:
        return False
    if t.ctx.now - since < t.ctx.handoff_timeout:
        return True
    t.update(handoff_since=None)
    t.emit(HandoffReleased(reason="timeout"))
    t.say(texts.HANDOFF_EXPIRED.format(phone=t.ctx.oa.contact.phone))
    return False


def _handoff(t: TurnBuilder) -> None:
    oa = t.ctx.oa
    t.update(handoff_since=t.ctx.now)
    t.emit(HandoffRequested(reason="citizen_request"))
    t.say(texts.HANDOFF_STARTED.format(oa_name=oa.display_name, hours=oa.contact.hours))


def _release(t: TurnBuilder) -> None:
    if t.state.handoff_since is None:
        return
    t.update(handoff_since=None)
    t.emit(HandoffReleased(reason="officer"))
    t.say(texts.HANDOFF_RELEASED, main_menu())


def _expire_form(t: TurnBuilder) -> bool:
    draft = t.form
    if draft is None or not report_form.is_expired(draft, t.ctx.now, t.ctx.form_expiry):
        return False
    t.update(form=None)
    minutes = int(t.ctx.form_expiry.total_seconds() // 60)
    t.say(
        texts.FORM_EXPIRED.format(minutes=minutes),
        (Button.query(texts.BTN_REPORT, texts.payload(Cmd.REPORT)),),
    )
    return True


# --- Commands (button payloads) ---------------------------------------------------------------------


def _command(t: TurnBuilder, raw: str, *, just_expired: bool) -> None:
    name, _, argument = raw.removeprefix("#").partition(":")
    name, argument = name.strip().lower(), argument.strip().lower()
    draft = t.form
    had_form = draft is not None
    if draft is not None:
        outcome = report_form.on_command(
            draft,
            name,
            t.ctx.now,
            submission_id=t.submission_id(),
            unit_name=t.ctx.oa.display_name,
        )
        if outcome is not None:
            _apply_form(t, outcome)
            return
    elif name in report_form.FORM_COMMANDS:
        if not just_expired:
            t.say(texts.NO_OPEN_FORM, main_menu())
        return
    _general_command(t, name, argument)
    if had_form:
        _remind_form(t)


def _general_command(t: TurnBuilder, name: str, argument: str) -> None:
    ctx = t.ctx
    if name == Cmd.MENU:
        t.say(texts.MAIN_MENU, main_menu())
    elif name == Cmd.PROCEDURES:
        t.say(texts.PROCEDURES_MENU, tuple(Button.query(title, p) for title, p in texts.PROCEDURE_TOPICS))
    elif name == Cmd.RESIDENCE:
        t.say(texts.RESIDENCE_MENU, tuple(Button.query(title, p) for title, p in texts.RESIDENCE_TOPICS))
    elif name in (Cmd.REPORT, Cmd.REPORT_CRIME, Cmd.REPORT_ORDER):
        kind: ReportKind | None = {Cmd.REPORT_CRIME: "crime", Cmd.REPORT_ORDER: "public_order"}.get(name)
        _start_form(t, kind)
    elif name == Cmd.DIRECTORY:
        if not argument:
            places.directory_default(t)
        elif (ward := ctx.directory.canonical_ward(argument)) is not None:
            t.send(ward_reply(ward, ctx.directory))
        else:
            places.ask_ward(t, Pending.DIRECTORY_WARD, ctx.directory.current_wards())
    elif name == Cmd.NEWS:
        t.say(
            texts.NEWS_MENU,
            (
                Button.query(texts.BTN_NEWS_LATEST, texts.payload(Cmd.NEWS_LATEST)),
                Button.query(texts.BTN_NEWS_SUBSCRIBE, texts.payload(Cmd.NEWS_SUBSCRIBE)),
                Button.query(texts.BTN_NEWS_UNSUBSCRIBE, texts.payload(Cmd.NEWS_UNSUBSCRIBE)),
                Button.query(texts.BTN_NEWS_WARD, texts.payload(Cmd.NEWS_WARD)),
            ),
        )
    elif name == Cmd.NEWS_LATEST:
        places.news_action(t, "latest", None)
    elif name == Cmd.NEWS_SUBSCRIBE:
        places.news_action(t, "subscribe", None)
    elif name == Cmd.NEWS_UNSUBSCRIBE:
        places.news_action(t, "unsubscribe", None)
    elif name == Cmd.NEWS_WARD:
        ward = ctx.directory.canonical_ward(argument) if argument else None
        if ward is None:
            places.ask_ward(t, Pending.NEWS_WARD, ctx.directory.current_wards())
        else:
            places.news_ward(t, ward)
    elif name == Cmd.STATUS:
        _status(t, argument.upper() or None)
    elif name == Cmd.HANDOFF:
        _handoff(t)
    elif (entry := ctx.knowledge.by_id(name)) is not None:
        t.send(_kb_reply(entry))
    else:
        t.say(texts.UNKNOWN_COMMAND, main_menu())


# --- Free text --------------------------------------------------------------------------------------


def _text(t: TurnBuilder, understood: UnderstandingLike | None, pending: Pending | None) -> None:
    text = t.inbound.text
    if t.form is not None:
        confident = understood is not None and understood.confidence >= t.ctx.min_confidence
        hint = _REPORT_KINDS.get(understood.intent) if understood is not None and confident else None
        outcome = report_form.on_text(
            t.form,
            text,
            t.ctx.now,
            submission_id=t.submission_id(),
            unit_name=t.ctx.oa.display_name,
            kind_hint=hint,
        )
        if not outcome.passthrough:
            _apply_form(t, outcome)
            return
        if understood is not None and confident and understood.intent not in _NOT_A_DETOUR:
            # At a button step the citizen asked something else: answer it, then bring them back.
            _route(t, understood)
            _remind_form(t)
        else:
            _apply_form(t, report_form.ask_again(t.form, t.ctx.now, texts.FORM_CHOOSE_BUTTON))
        return
    if pending is not None and understood is not None:
        ward = places.named_ward(t, understood.entities)
        if ward is not None:
            if pending is Pending.DIRECTORY_WARD:
                t.send(ward_reply(ward, t.ctx.directory))
            else:
                places.news_ward(t, ward)
            return
    _route(t, understood)


def _route(t: TurnBuilder, understood: UnderstandingLike | None) -> None:
    if understood is None:
        t.say(texts.OUT_OF_SCOPE, main_menu())
        return
    intent = understood.intent
    if understood.confidence < t.ctx.min_confidence and intent not in _SMALL_TALK:
        _clarify(t, understood)
    elif intent == "greeting":
        t.say(texts.GREETING.format(oa_name=t.ctx.oa.display_name), main_menu())
    elif intent == "thanks":
        t.say(texts.THANKS, main_menu())
    elif intent == "help":
        entry = t.ctx.knowledge.answer("help")
        if entry is not None:
            t.send(_kb_reply(entry, with_more=False))
        else:
            t.say(texts.MAIN_MENU, main_menu())
    elif intent.startswith("procedure."):
        entry = t.ctx.knowledge.answer(intent, understood.entities.subcases)
        if entry is None:
            t.say(texts.PROCEDURE_MISSING, (Button.query(texts.BTN_DIRECTORY, texts.payload(Cmd.DIRECTORY)),))
        else:
            t.send(_kb_reply(entry))
    elif intent in _REPORT_KINDS:
        _start_form(t, _REPORT_KINDS[intent])
    elif intent == "report.status":
        _status(t, understood.entities.case_code)
    elif intent == "directory.lookup":
        places.answer_directory(t, understood.entities)
    elif intent == "news":
        places.answer_news(t, understood.entities)
    elif intent == "handoff.human":
        _handoff(t)
    else:
        t.say(texts.OUT_OF_SCOPE, main_menu())


def _clarify(t: TurnBuilder, understood: UnderstandingLike) -> None:
    """Offer the 2-3 likeliest topics as buttons instead of risking a wrong answer."""
    ranked = sorted([(understood.intent, understood.confidence), *understood.alternatives], key=lambda p: -p[1])
    buttons: list[Button] = []
    for intent, _score in ranked:
        button = _intent_button(t, intent)
        if button is not None and all(b.payload != button.payload for b in buttons):
            buttons.append(button)
        if len(buttons) == 3:
            break
    for button in main_menu():
        if len(buttons) >= 2:
            break
        if all(b.payload != button.payload for b in buttons):
            buttons.append(button)
    t.say(texts.CLARIFY, tuple(buttons))


def _intent_button(t: TurnBuilder, intent: str) -> Button | None:
    title = texts.INTENT_TITLES.get(intent)
    if title is None:
        return None
    if intent.startswith("procedure."):
        entry = t.ctx.knowledge.answer(intent)
        return Button.query(title, entry.payload) if entry is not None else None
    if intent == "help":
        entry = t.ctx.knowledge.answer("help")
        return Button.query(title, entry.payload if entry else texts.payload(Cmd.MENU))
    command = {
        "report.crime": Cmd.REPORT_CRIME,
        "report.public_order": Cmd.REPORT_ORDER,
        "report.status": Cmd.STATUS,
        "directory.lookup": Cmd.DIRECTORY,
        "news": Cmd.NEWS,
        "handoff.human": Cmd.HANDOFF,
    }[intent]
    return Button.query(title, texts.payload(command))


def _kb_reply(entry: KBEntry, *, with_more: bool = True) -> Reply:
    buttons = [Button(title=b.title, kind=b.kind, payload=b.payload) for b in entry.buttons]
    if with_more and entry.intent.startswith("procedure.") and len(buttons) < 5:
        buttons.append(Button.query(texts.BTN_MORE_PROCEDURES, texts.payload(Cmd.PROCEDURES)))
    return Reply(text=entry.message(), buttons=tuple(buttons))


def _status(t: TurnBuilder, case_code: str | None) -> None:
    t.emit(StatusRequest(case_code=case_code))
    if case_code:
        t.say(texts.STATUS_WITH_CODE.format(code=case_code))
    else:
        t.say(texts.STATUS_WITHOUT_CODE)


# --- Report form ------------------------------------------------------------------------------------


def _start_form(t: TurnBuilder, kind: ReportKind | None) -> None:
    if t.form is not None:
        _apply_form(t, report_form.ask_again(t.form, t.ctx.now, texts.FORM_ALREADY_OPEN))
        return
    draft = report_form.start(t.ctx.now, kind)
    t.update(form=draft)
    t.send(report_form.prompt(draft))


def _apply_form(t: TurnBuilder, outcome: report_form.FormOutcome) -> None:
    t.update(form=outcome.draft)
    for reply in outcome.replies:
        t.send(reply)
    for effect in outcome.effects:
        t.emit(effect)
    if outcome.cancelled:
        t.say(texts.FORM_CANCELLED, main_menu())


def _remind_form(t: TurnBuilder) -> None:
    """After answering something else mid-form, say where the citizen was (unless an officer took over)."""
    if t.form is not None and t.state.handoff_since is None:
        t.update(form=t.form.model_copy(update={"updated_at": t.ctx.now}))
        t.send(report_form.reminder(t.form))


def _location(t: TurnBuilder) -> None:
    location = t.inbound.location
    if t.form is None or location is None:
        t.say(texts.LOCATION_OUTSIDE_FORM, (Button.query(texts.BTN_REPORT, texts.payload(Cmd.REPORT)),))
        return
    _apply_form(t, report_form.on_location(t.form, location, t.inbound.place_name, t.ctx.now))


def _attachments(t: TurnBuilder) -> None:
    if t.form is None:
        t.say(texts.MEDIA_OUTSIDE_FORM, (Button.query(texts.BTN_REPORT, texts.payload(Cmd.REPORT)),))
        return
    if not t.inbound.urls:
        t.send(report_form.reminder(t.form))
        return
    _apply_form(t, report_form.on_attachments(t.form, t.inbound.urls, t.ctx.now))


def _welcome(t: TurnBuilder) -> None:
    oa = t.ctx.oa
    ward_line = texts.WELCOME_WARD_LINE.format(ward=oa.ward) if oa.kind == "ward" and oa.ward else ""
    t.say(texts.WELCOME.format(oa_name=oa.display_name, ward_line=ward_line), main_menu())


# --- Helper for the command-line tools --------------------------------------------------------------

_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def _load_directory(registry: Directory | Mapping[str, Any] | str | Path | None) -> Directory:
    if isinstance(registry, Directory):
        return registry
    mergers_path = _CONFIG_DIR / "ward-mergers.json"
    mergers = json.loads(mergers_path.read_text(encoding="utf-8")) if mergers_path.exists() else None
    if registry is None:
        registry = _CONFIG_DIR / "oa-registry.json"
    if isinstance(registry, str | Path):
        registry = json.loads(Path(registry).read_text(encoding="utf-8"))
    return Directory.from_config(registry, mergers)


def first_reply(
    text: str,
    oa_key: str,
    registry: Directory | Mapping[str, Any] | str | Path | None = None,
    *,
    knowledge: KnowledgeBase | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The first reply a new citizen would get for `text` on OA `oa_key` (reads files; for the CLI).

    `registry` is a `Directory`, a parsed `oa-registry.json`, a path to one, or None for the repo's
    config. Returns {"intent", "confidence", "text", "buttons": [{"title", "type", "payload"}]}.
    """
    from services.intent.knowledge import load_knowledge

    directory = _load_directory(registry)
    ctx = TurnContext(
        now=now or datetime.now(UTC),
        oa_key=oa_key,
        directory=directory,
        knowledge=knowledge or load_knowledge(),
    )
    inbound = Inbound(event_id="first-reply", kind=InboundKind.TEXT, text=text)
    understood = None
    if not inbound.is_command:
        # Imported here: the classifier is the caller's concern everywhere except in this CLI helper.
        from services.intent.nlu.understand import understand

        understood = understand(text)
    turn = converse(Conversation.start(oa_key, "first-reply"), inbound, understood, ctx)
    reply = turn.replies[0] if turn.replies else None
    return {
        "intent": understood.intent if understood is not None else "command",
        "confidence": understood.confidence if understood is not None else 1.0,
        "text": reply.text if reply else "",
        "buttons": [b.to_zalo() for b in reply.buttons] if reply else [],
    }
