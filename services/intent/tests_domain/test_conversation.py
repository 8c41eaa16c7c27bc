"""The conversation outside the report form: welcome, answers, clarification, directory, news, status."""

from __future__ import annotations

import sys
import types

import pytest

from services.intent import texts
from services.intent.domain import (
    Conversation,
    Inbound,
    InboundKind,
    IntentObserved,
    NewsPreference,
    Pending,
    StatusRequest,
    converse,
    first_reply,
)

pytestmark = pytest.mark.unit

MAIN_MENU = ["#thutuc", "#baotin", "#danhba", "#tintuc"]


def payloads(reply) -> list[str]:
    return [b.payload for b in reply.buttons]


def test_follow_on_a_ward_oa_welcomes_with_the_ward_name_and_the_main_menu(chat) -> None:
    turn = chat("taythanh").event(InboundKind.FOLLOW)

    assert len(turn.replies) == 1
    welcome = turn.replies[0]
    assert "phường Tây Thạnh" in welcome.text
    assert "113" in welcome.text
    assert payloads(welcome) == MAIN_MENU
    assert [b.title for b in welcome.buttons][:2] == ["Thủ tục hành chính", "Tố giác / Phản ánh"]


def test_follow_on_a_unit_oa_names_the_unit_without_a_ward_line(chat) -> None:
    welcome = chat("csgt").event(InboundKind.FOLLOW).replies[0]
    assert "Đội Cảnh sát giao thông" in welcome.text
    assert "địa bàn phường" not in welcome.text


def test_a_procedure_question_gets_the_knowledge_base_answer(chat) -> None:
    turn = chat().say("gia hạn tạm trú thế nào", intent="procedure.temporary_residence", subcases=frozenset({"renew"}))

    (reply,) = turn.replies
    assert reply.text.startswith("Gia hạn tạm trú")
    assert "15 ngày" in reply.text
    assert "Căn cứ:" in reply.text and "Luật Cư trú" in reply.text
    assert "Thông tin cập nhật ngày 30/11/2026" in reply.text
    assert "#tamtru" in payloads(reply)
    assert payloads(reply)[-1] == "#thutuc"
    assert len(reply.buttons) <= 5


def test_every_classified_text_is_observed(chat) -> None:
    turn = chat().say("mất căn cước", intent="procedure.identity_card", confidence=0.8, subcases=frozenset({"lost"}))

    observed = [e for e in turn.effects if isinstance(e, IntentObserved)]
    assert len(observed) == 1
    assert observed[0].intent == "procedure.identity_card"
    assert observed[0].confidence == 0.8
    assert observed[0].entities.subcases == ("lost",)
    assert turn.replies[0].text.startswith("Thẻ căn cước bị mất")


def test_a_subcase_button_opens_its_entry(chat) -> None:
    c = chat()
    turn = c.press("#cancuoc-treem")
    assert turn.replies[0].text.startswith("Thẻ căn cước cho trẻ em dưới 14 tuổi")
    assert not [e for e in turn.effects if isinstance(e, IntentObserved)], "buttons are not classified"


def test_low_confidence_asks_which_topic_with_the_likeliest_ones(chat) -> None:
    turn = chat().say(
        "cho hỏi về giấy tờ",
        intent="procedure.identity_card",
        confidence=0.3,
        alternatives=(("procedure.temporary_residence", 0.25), ("procedure.permanent_residence", 0.2)),
    )

    (reply,) = turn.replies
    assert reply.text == texts.CLARIFY
    assert payloads(reply) == ["#cancuoc", "#tamtru", "#thuongtru"]
    assert "Căn cứ" not in reply.text, "never an answer when unsure"


def test_low_confidence_with_one_candidate_still_offers_two_choices(chat) -> None:
    reply = chat().say("ờ", intent="out_of_scope", confidence=0.2, alternatives=(("news", 0.1),)).replies[0]
    assert 2 <= len(reply.buttons) <= 3
    assert payloads(reply)[0] == "#tintuc"


@pytest.mark.parametrize("intent", ["greeting", "thanks", "help", "out_of_scope"])
def test_small_talk_gets_a_short_polite_reply_with_the_menu(chat, intent: str) -> None:
    (reply,) = chat().say("xin chào", intent=intent).replies
    assert reply.text.startswith("Dạ") or reply.text.startswith("Trợ lý")
    assert payloads(reply) == MAIN_MENU


def test_directory_on_a_ward_oa_gives_its_own_contact_with_a_call_button(chat) -> None:
    (reply,) = chat("taythanh").say("số điện thoại công an phường", intent="directory.lookup").replies
    assert "Công an phường Tây Thạnh" in reply.text
    assert "02838200002" in reply.text
    call = reply.buttons[0]
    assert call.kind == "phone" and call.payload == "02838200002"
    assert call.to_zalo() == {
        "title": call.title,
        "type": "oa.open.phone",
        "payload": {"phone_code": "02838200002"},
    }


def test_directory_on_the_district_oa_asks_which_ward_then_takes_a_typed_name(chat) -> None:
    c = chat("tanphu")
    ask = c.say("cho xin địa chỉ công an phường", intent="directory.lookup").replies[0]
    assert ask.text == texts.DIRECTORY_ASK_WARD
    assert payloads(ask) == [
        "#danhba:taythanh",
        "#danhba:tansonnhi",
        "#danhba:phuthohoa",
        "#danhba:tanphu",
        "#danhba:phuthanh",
    ]
    assert c.state.pending is Pending.DIRECTORY_WARD

    answer = c.say("phu tho hoa", intent="out_of_scope", confidence=0.3).replies[0]
    assert "Công an phường Phú Thọ Hòa" in answer.text
    assert c.state.pending is None


def test_directory_by_an_old_ward_name_points_to_the_new_wards(chat) -> None:
    (reply,) = chat("tanphu").say("công an phường Sơn Kỳ ở đâu", intent="directory.lookup").replies

    assert "phường Sơn Kỳ cũ" in reply.text
    assert "phường Tây Thạnh và phường Tân Sơn Nhì" in reply.text
    assert "01/7/2025" in reply.text
    assert "02838200002" in reply.text and "02838200001" in reply.text
    assert [b.payload for b in reply.buttons] == ["02838200002", "02838200001"]


def test_directory_by_an_old_ward_entity_without_diacritics(chat) -> None:
    (reply,) = chat("tanphu").say("cong an hiep tan", intent="directory.lookup", ward="hiep tan").replies
    assert "phường Hiệp Tân cũ" in reply.text and "phường Phú Thạnh" in reply.text


def test_directory_for_a_new_ward_missing_from_the_registry_says_so(chat) -> None:
    (reply,) = chat("tanphu").press("#danhba:tanphu").replies
    assert "Công an phường Tân Phú" in reply.text and "chưa có thông tin liên hệ" in reply.text


def test_directory_by_unit(chat) -> None:
    (reply,) = chat("taythanh").say("số đội cảnh sát giao thông", intent="directory.lookup", unit="csgt").replies
    assert "Đội Cảnh sát giao thông" in reply.text
    assert reply.buttons[0].payload == "02838100004"


def test_status_with_and_without_a_code(chat) -> None:
    c = chat()
    turn = c.say("tra cứu hồ sơ TTH-2026-0042", intent="report.status", case_code="TTH-2026-0042")
    assert StatusRequest(case_code="TTH-2026-0042") in turn.effects
    assert "TTH-2026-0042" in turn.replies[0].text

    turn = c.say("hồ sơ của tôi đến đâu rồi", intent="report.status")
    assert StatusRequest(case_code=None) in turn.effects


@pytest.mark.parametrize(
    ("text", "ward", "expected"),
    [
        ("đăng ký nhận tin", None, NewsPreference(action="subscribe")),
        ("ngừng nhận tin tức", None, NewsPreference(action="unsubscribe")),
        ("có tin gì mới không", None, NewsPreference(action="latest")),
        ("nhận tin phường Phú Thạnh", "Phú Thạnh", NewsPreference(action="subscribe", ward="Phú Thạnh")),
        ("tin tức phường Hòa Thạnh", None, NewsPreference(action="change_ward", ward="Tân Phú")),
    ],
)
def test_news_preferences(chat, text: str, ward: str | None, expected: NewsPreference) -> None:
    turn = chat().say(text, intent="news", ward=ward)
    assert expected in turn.effects
    assert turn.replies[0].text.startswith("Dạ")


def test_news_for_a_split_old_ward_asks_which_new_ward(chat) -> None:
    c = chat()
    turn = c.say("tin tức phường Tân Quý", intent="news")
    assert not [e for e in turn.effects if isinstance(e, NewsPreference)]
    assert payloads(turn.replies[0]) == ["#tin-phuong:tansonnhi", "#tin-phuong:phuthohoa"]
    turn = c.press("#tin-phuong:phuthohoa")
    assert NewsPreference(action="change_ward", ward="Phú Thọ Hòa") in turn.effects


def test_a_redelivered_event_gets_no_second_reply(chat) -> None:
    c = chat()
    inbound = Inbound(event_id="msg-42", kind=InboundKind.TEXT, text="xin chào")
    first = converse(c.state, inbound, None, c.context())
    assert first.replies

    again = converse(first.state, inbound, None, c.context())
    assert again.replies == () and again.effects == ()
    assert again.state == first.state


def test_unknown_inbound_kinds_and_empty_text_get_no_reply(chat) -> None:
    c = chat()
    assert c.event("user_seen_message").replies == ()
    assert c.send(Inbound(event_id="e-empty", kind=InboundKind.TEXT, text="  ")).replies == ()


def test_unknown_button_payload_shows_the_menu(chat) -> None:
    reply = chat().press("#khong-ton-tai").replies[0]
    assert reply.text == texts.UNKNOWN_COMMAND
    assert payloads(reply) == MAIN_MENU


def test_procedure_menus_lead_to_answers(chat) -> None:
    c = chat()
    topics = c.press("#thutuc").replies[0]
    assert len(topics.buttons) == 5
    residence = c.press(topics.buttons[0].payload).replies[0]
    assert payloads(residence) == ["#thuongtru", "#tamtru", "#tamvang", "#luutru", "#hokhau"]
    for payload in payloads(residence):
        assert "Căn cứ:" in c.press(payload).replies[0].text


def test_the_state_round_trips_through_json(chat) -> None:
    c = chat()
    c.press("#baotin")
    c.press("#toigiac")
    restored = Conversation.model_validate_json(c.state.model_dump_json())
    assert restored == c.state


def test_news_actions_from_the_classifier_win_over_keywords(chat) -> None:
    c = chat()
    turn = c.say("đổi phường nhận tin", intent="news", subcases=frozenset({"change_ward"}))
    assert not [e for e in turn.effects if isinstance(e, NewsPreference)]
    assert len(turn.replies[0].buttons) == 5 and c.state.pending is Pending.NEWS_WARD
    turn = c.say("Tây Thạnh", intent="directory.lookup", ward="Tây Thạnh")
    assert NewsPreference(action="change_ward", ward="Tây Thạnh") in turn.effects

    turn = c.say("stop", intent="news", subcases=frozenset({"unsubscribe"}))
    assert NewsPreference(action="unsubscribe") in turn.effects


def test_first_reply_for_a_button_payload_needs_no_classifier(directory, knowledge) -> None:
    result = first_reply("#thutuc", "taythanh", directory, knowledge=knowledge)
    assert result["intent"] == "command"
    assert result["text"] == texts.PROCEDURES_MENU
    assert result["buttons"][0] == {"title": "Cư trú", "type": "oa.query.show", "payload": "#cutru"}


def test_first_reply_classifies_text(monkeypatch, directory, knowledge, understanding) -> None:
    fake = types.ModuleType("services.intent.nlu.understand")
    fake.understand = lambda text: understanding("emergency", 0.9)
    monkeypatch.setitem(sys.modules, "services.intent.nlu.understand", fake)

    result = first_reply("cháy nhà", "tanphu", directory, knowledge=knowledge)

    assert result["intent"] == "emergency"
    assert "113" in result["text"]
    assert [b["type"] for b in result["buttons"]] == ["oa.open.phone"] * 3


def test_directory_for_a_unit_missing_from_the_registry(chat) -> None:
    turn = chat("taythanh").say("số đội an ninh kinh tế", intent="directory.lookup", unit="phongkhac")
    assert turn.replies[0].text == texts.DIRECTORY_UNKNOWN_UNIT
    assert "Công an phường Tây Thạnh" in turn.replies[1].text


def test_unit_lookup_prefers_the_unit_key_over_a_report_unit(directory) -> None:
    assert directory.unit_office("qlhc").key == "qlhc"
    assert directory.unit_office("tanphu").kind == "district"
    assert directory.unit_office("traffic").key == "csgt"
    assert directory.unit_office("không có") is None
