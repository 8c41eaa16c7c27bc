"""Whole-system journeys through the simulator's webhooks only, every service its own process."""

from __future__ import annotations

import pytest

from servicekit.testing import unique
from tests.system import System

pytestmark = pytest.mark.e2e


async def test_follow_then_ask_temporary_residence_without_diacritics(system: System):
    user = str(7_000_000_000_000_000_000 + int(unique("")[:8], 16))
    await system.citizen("tansonnhi", user, "follow")
    (welcome,) = await system.wait_messages("tansonnhi", user, 1)
    assert "Tân Sơn Nhì" in welcome["text"]

    await system.citizen("tansonnhi", user, "text", text="dang ky tam tru can nhung giay to gi vay")
    answer = (await system.wait_messages("tansonnhi", user, 2))[1]
    assert "tạm trú" in answer["text"].lower()
    assert "CT01" in answer["text"]
