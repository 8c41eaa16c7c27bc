"""Turn handlers for places: the directory of police offices and the ward a citizen gets news for."""

from __future__ import annotations

from services.intent import texts
from services.intent.conversation import textmatch
from services.intent.conversation.directory import contact_reply, ward_chooser, ward_reply
from services.intent.conversation.model import EntitiesLike, NewsPreference, OaProfile, Pending
from services.intent.conversation.turn import TurnBuilder
from services.intent.texts import Cmd

NEWS_ACTIONS = ("unsubscribe", "subscribe", "change_ward", "latest")


def named_ward(t: TurnBuilder, entities: EntitiesLike) -> str | None:
    """The ward a message names: the classifier's entity if it is a known ward, else a name in the text."""
    directory = t.ctx.directory
    if entities.ward and (ward := directory.canonical_ward(entities.ward)) is not None:
        return ward
    return textmatch.find_ward(t.inbound.text, directory)


def answer_directory(t: TurnBuilder, entities: EntitiesLike) -> None:
    directory = t.ctx.directory
    if entities.unit and (office := directory.unit_office(entities.unit)) is not None:
        t.send(contact_reply(office, directory, offer_other_wards=False))
        return
    ward = named_ward(t, entities)
    if ward is not None:
        t.send(ward_reply(ward, directory))
        return
    if entities.unit:
        # A unit this registry does not have (e.g. after a reorganisation): say so, then the usual answer.
        t.say(texts.DIRECTORY_UNKNOWN_UNIT)
    directory_default(t)


def directory_default(t: TurnBuilder) -> None:
    """No ward or unit named: a ward or unit OA gives its own contact; a district OA asks which ward."""
    oa: OaProfile = t.ctx.oa
    if oa.kind in ("ward", "unit"):
        t.send(contact_reply(oa, t.ctx.directory, offer_other_wards=True))
    else:
        ask_ward(t, Pending.DIRECTORY_WARD, t.ctx.directory.current_wards())


def ask_ward(t: TurnBuilder, pending: Pending, wards: tuple[str, ...]) -> None:
    command = Cmd.DIRECTORY if pending is Pending.DIRECTORY_WARD else Cmd.NEWS_WARD
    text = texts.DIRECTORY_ASK_WARD if pending is Pending.DIRECTORY_WARD else texts.NEWS_ASK_WARD
    t.update(pending=pending)
    t.send(ward_chooser(wards, command, text))


def answer_news(t: TurnBuilder, entities: EntitiesLike) -> None:
    # The classifier reports news actions as subcases; the local keyword rule is the fallback.
    action = next((a for a in NEWS_ACTIONS if a in entities.subcases), None)
    action = action or textmatch.news_action(t.inbound.text)
    ward = named_ward(t, entities)
    if action == "unsubscribe":
        news_action(t, "unsubscribe", None)
    elif ward is not None:
        serving = t.ctx.directory.serving_wards(ward)
        if len(serving) > 1:
            ask_ward(t, Pending.NEWS_WARD, serving)
        elif action == "subscribe":
            news_action(t, "subscribe", serving[0])
        else:
            news_ward(t, serving[0])
    elif action == "change_ward":
        ask_ward(t, Pending.NEWS_WARD, t.ctx.directory.current_wards())
    else:
        news_action(t, action, None)


def news_ward(t: TurnBuilder, ward: str) -> None:
    serving = t.ctx.directory.serving_wards(ward)
    if len(serving) > 1:
        ask_ward(t, Pending.NEWS_WARD, serving)
        return
    t.emit(NewsPreference(action="change_ward", ward=serving[0]))
    t.say(texts.NEWS_WARD_CHANGED.format(ward=serving[0]))


def news_action(t: TurnBuilder, action: str, ward: str | None) -> None:
    if action == "subscribe":
        t.emit(NewsPreference(action="subscribe", ward=ward))
        ward_part = texts.NEWS_WARD_PART.format(ward=ward) if ward else ""
        t.say(texts.NEWS_SUBSCRIBED.format(ward_part=ward_part))
    elif action == "unsubscribe":
        t.emit(NewsPreference(action="unsubscribe"))
        t.say(texts.NEWS_UNSUBSCRIBED)
    else:
        t.emit(NewsPreference(action="latest"))
        t.say(texts.NEWS_LATEST)
