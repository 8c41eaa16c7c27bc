"""The per-call accumulator of one turn, and the helpers every handler shares."""

from __future__ import annotations

import uuid
from typing import Any

from services.intent import texts
from services.intent.conversation.model import (
    Button,
    Conversation,
    Effect,
    Inbound,
    Reply,
    ReportDraft,
    Turn,
    TurnContext,
)
from services.intent.texts import Cmd

# Fixed namespace so a submission id depends only on the conversation and the confirming event.
_SUBMISSION_NAMESPACE = uuid.UUID("5b0f6a52-3a4e-4d1e-9c55-7a1f0e2b9d43")


def submission_id(state: Conversation, event_id: str, purpose: str = "report") -> str:
    """Deterministic id of a report: the same conversation and event always give the same id."""
    return str(uuid.uuid5(_SUBMISSION_NAMESPACE, f"{purpose}:{state.oa_key}:{state.user_id}:{event_id}"))


def main_menu() -> tuple[Button, ...]:
    """The four main-menu buttons shown with welcomes and short replies."""
    return (
        Button.query(texts.BTN_PROCEDURES, texts.payload(Cmd.PROCEDURES)),
        Button.query(texts.BTN_REPORT, texts.payload(Cmd.REPORT)),
        Button.query(texts.BTN_DIRECTORY, texts.payload(Cmd.DIRECTORY)),
        Button.query(texts.BTN_NEWS, texts.payload(Cmd.NEWS)),
    )


class TurnBuilder:
    """Collects one turn's state changes, replies and effects (local to a single `converse` call)."""

    def __init__(self, state: Conversation, inbound: Inbound, ctx: TurnContext) -> None:
        self.state = state
        self.inbound = inbound
        self.ctx = ctx
        self.replies: list[Reply] = []
        self.effects: list[Effect] = []

    def say(self, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self.replies.append(Reply(text=text, buttons=buttons))

    def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    def emit(self, effect: Effect) -> None:
        self.effects.append(effect)

    def update(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    @property
    def form(self) -> ReportDraft | None:
        return self.state.form

    def submission_id(self, purpose: str = "report") -> str:
        return submission_id(self.state, self.inbound.event_id, purpose)

    def done(self) -> Turn:
        return Turn(state=self.state, replies=tuple(self.replies), effects=tuple(self.effects))
