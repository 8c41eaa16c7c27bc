"""The terminal chat: command parsing, rendering, and a session against a running simulator."""

import pytest

from zalosim.chat import ChatSession, Choice, Command, parse_command, render_message, resolve_choice
from zalosim.tests.support import Sim, poll_until, random_user_id


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("xin chao, toi muon bao mat xe", Command("text", text="xin chao, toi muon bao mat xe")),
        ("  2 ", Command("choice", number=2)),
        ("/loc 10.79 106.63 Chợ Tân Phú", Command("loc", latitude=10.79, longitude=106.63, text="Chợ Tân Phú")),
        ("/loc 10.79", Command("error", text="Cú pháp: /loc <vĩ độ> <kinh độ> [tên địa điểm]")),
        ("/photo ~/a.jpg", Command("photo", path="~/a.jpg")),
        ("/photo", Command("photo")),
        ("/FOLLOW", Command("follow")),
        ("/quit", Command("quit")),
        ("", Command("empty")),
    ],
)
def test_parse_command(line: str, expected: Command) -> None:
    assert parse_command(line) == expected


@pytest.mark.unit
def test_buttons_render_as_numbered_choices() -> None:
    message = {
        "type": "buttons",
        "text": "Bạn cần gì?",
        "buttons": [
            {"title": "Thủ tục", "type": "oa.query.hide", "payload": "#thutuc"},
            {"title": "Gọi trực ban", "type": "oa.open.phone", "payload": {"phone_code": "02838100001"}},
        ],
    }
    lines, choices = render_message("CA Tân Phú", message)
    assert lines[0] == "[CA Tân Phú] Bạn cần gì?"
    assert "    [1] Thủ tục" in lines and "    [2] Gọi trực ban" in lines
    assert resolve_choice(choices[0]).send_text == "#thutuc"
    assert resolve_choice(choices[1]).show == "📞 Gọi số 02838100001"
    assert resolve_choice(Choice("Web", "oa.open.url", {"url": "https://x.vn"})).show == "🔗 Mở liên kết: https://x.vn"


async def test_session_shows_replies_and_taps_buttons(sim: Sim) -> None:
    seen: list[str] = []
    user = random_user_id()
    session = ChatSession(
        sim.client.session, str(sim.client.make_url("")).rstrip("/"), "tanphu", "CA Tân Phú", user, output=seen.append
    )
    await session.start()

    async def no_questions(prompt: str) -> str:
        raise AssertionError(prompt)

    assert await session.handle(parse_command("cho toi hoi thu tuc"), no_questions)
    buttons = [{"title": "Tạm trú", "type": "oa.query.show", "payload": "#tamtru"}]
    body = {
        "recipient": {"user_id": user},
        "message": {"text": "Chọn thủ tục:", "attachment": {"type": "template", "payload": {"buttons": buttons}}},
    }
    assert (await sim.post("/v3.0/oa/message/cs", body))["error"] == 0

    async def shown() -> bool:
        await session.poll()
        return "    [1] Tạm trú" in seen

    await poll_until(shown, "the buttons to be shown")
    assert await session.handle(parse_command("1"), no_questions)
    texts = [event["message"]["text"] for event in sim.receiver.events("user_send_text")]
    assert texts == ["cho toi hoi thu tuc", "#tamtru"]

    answers = iter(["Lê Văn C", "0901234567", "5 Tân Kỳ Tân Quý", "Sơn Kỳ"])

    async def answer(prompt: str) -> str:
        return next(answers)

    assert await session.handle(parse_command("/info"), answer)
    [info] = sim.receiver.events("user_submit_info")
    assert info["info"]["phone"] == "0901234567"
    assert info["info"]["full_address"]["user_ward"] == "Sơn Kỳ"
    assert not await session.handle(parse_command("/quit"), no_questions)
