"""Handing a citizen to an officer: the bot goes quiet, except for emergencies, until released."""

from __future__ import annotations

import pytest

from services.intent import texts
from services.intent.domain import (
    EmergencyAlert,
    HandoffReleased,
    HandoffRequested,
    InboundKind,
    IntentObserved,
)

pytestmark = pytest.mark.unit


def test_handoff_silences_the_bot_until_an_officer_releases_it(chat) -> None:
    c = chat("taythanh")
    turn = c.say("cho tôi gặp cán bộ", intent="handoff.human")
    assert HandoffRequested(reason="citizen_request") in turn.effects
    assert "cán bộ" in turn.replies[0].text and "113" in turn.replies[0].text

    quiet = c.say("thủ tục tạm trú thế nào", intent="procedure.temporary_residence")
    assert quiet.replies == ()
    assert [type(e) for e in quiet.effects] == [IntentObserved]
    assert c.press("#thutuc").replies == ()
    assert c.send_image("https://img.example/x.jpg").replies == ()

    released = c.event(InboundKind.RELEASE)
    assert HandoffReleased(reason="officer") in released.effects
    assert released.replies[0].text == texts.HANDOFF_RELEASED

    answered = c.say("thủ tục tạm trú thế nào", intent="procedure.temporary_residence")
    assert answered.replies[0].text.startswith("Đăng ký tạm trú")


def test_emergencies_are_answered_during_a_handoff(chat) -> None:
    c = chat()
    c.say("gặp cán bộ", intent="handoff.human")
    turn = c.say("có cướp, cứu tôi", intent="emergency")
    assert turn.replies[0].buttons[0].payload == "113"
    assert any(isinstance(e, EmergencyAlert) for e in turn.effects)
    assert c.state.handoff_since is not None, "the officer keeps the conversation"


def test_handoff_times_out(chat) -> None:
    c = chat()
    c.say("gặp cán bộ", intent="handoff.human")
    c.wait(hours=1, minutes=59)
    assert c.say("alo", intent="greeting").replies == ()
    c.wait(minutes=2)

    turn = c.say("thủ tục tạm trú", intent="procedure.temporary_residence")
    assert HandoffReleased(reason="timeout") in turn.effects
    assert turn.replies[0].text == texts.HANDOFF_EXPIRED.format(phone="02838200002")
    assert turn.replies[1].text.startswith("Đăng ký tạm trú")
    assert c.state.handoff_since is None


def test_release_without_a_handoff_does_nothing(chat) -> None:
    turn = chat().event(InboundKind.RELEASE)
    assert turn.replies == () and turn.effects == ()


def test_unfollow_clears_everything_silently(chat) -> None:
    c = chat()
    c.press("#baotin")
    c.say("gặp cán bộ", intent="handoff.human", confidence=0.9)
    turn = c.event(InboundKind.UNFOLLOW)
    assert turn.replies == ()
    assert c.state.form is None and c.state.handoff_since is None
