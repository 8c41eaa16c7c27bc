"""The report form: the full path, cancel, back, expiry, and an emergency in the middle."""

from __future__ import annotations

import pytest

from services.intent import texts
from services.intent.domain import (
    EmergencyAlert,
    FormStep,
    GeoPoint,
    Inbound,
    InboundKind,
    SubmitReport,
    submission_id,
)

pytestmark = pytest.mark.unit


def reports(turn) -> list[SubmitReport]:
    return [e for e in turn.effects if isinstance(e, SubmitReport)]


def payloads(reply) -> list[str]:
    return [b.payload for b in reply.buttons]


def fill_until_where(c) -> None:
    c.press("#baotin")
    c.press("#phananh")
    c.say("Nhóm thanh niên tụ tập đua xe, bốc đầu gây ồn mỗi tối")
    c.say("khoảng 23 giờ tối qua")


def test_full_form_with_location_and_two_photos_yields_one_report(chat) -> None:
    c = chat("taythanh")
    (ask_kind,) = c.press("#baotin").replies
    assert payloads(ask_kind) == ["#toigiac", "#phananh", "#huy"]

    assert c.press("#phananh").replies[0].text == texts.FORM_ASK_DESCRIPTION["public_order"]
    ask_when = c.say("Nhóm thanh niên tụ tập đua xe, bốc đầu gây ồn mỗi tối").replies[0]
    assert "#vuaxayra" in payloads(ask_when)
    assert c.say("khoảng 23 giờ tối qua").replies[0].text == texts.FORM_ASK_WHERE
    ask_photos = c.share_location(10.8012, 106.6263, "Đường Tây Thạnh").replies[0]
    assert ask_photos.text == texts.FORM_ASK_PHOTOS and payloads(ask_photos)[0] == "#boqua"

    got_one = c.send_image("https://img.example/1.jpg").replies[0]
    assert "1 tệp" in got_one.text
    assert "2 tệp" in c.send_image("https://img.example/2.jpg").replies[0].text
    assert c.press("#xong").replies[0].text == texts.FORM_ASK_ANONYMOUS
    confirm = c.press("#andanh").replies[0]
    assert "Nhóm thanh niên tụ tập" in confirm.text and "ẩn danh" in confirm.text
    assert "Tệp đính kèm: 2" in confirm.text
    assert payloads(confirm) == ["#gui", "#quaylai", "#huy"]
    assert reports(c.press("#andanh")) == [], "a stale button does not send anything"

    send_id = c.next_id()
    turn = c.send(Inbound(event_id=send_id, kind=InboundKind.BUTTON, text="#gui"))

    (report,) = reports(turn)
    assert report == SubmitReport(
        submission_id=submission_id(c.state, send_id),
        kind="public_order",
        category="racing",
        description="Nhóm thanh niên tụ tập đua xe, bốc đầu gây ồn mỗi tối",
        occurred_at_text="khoảng 23 giờ tối qua",
        place_text="Đường Tây Thạnh",
        location=GeoPoint(lat=10.8012, lon=106.6263),
        attachments=("https://img.example/1.jpg", "https://img.example/2.jpg"),
        anonymous=True,
        urgent=False,
    )
    assert "đang tạo mã hồ sơ" in turn.replies[0].text
    assert c.state.form is None
    assert reports(c.press("#gui")) == [], "pressing Gửi again sends nothing"


def test_typed_answers_and_intent_hint_fill_the_form(chat) -> None:
    c = chat()
    c.say("tôi muốn báo tin", intent="report.crime")
    assert c.state.form.step is FormStep.DESCRIPTION and c.state.form.kind == "crime"
    c.say("Bị lừa chuyển khoản 5 triệu qua Zalo giả danh công an")
    c.say("không rõ")
    assert c.state.form.occurred_at_text == texts.BTN_UNKNOWN_TIME
    c.say("123 Lũy Bán Bích")
    c.say("bỏ qua")
    c.say("không ẩn danh")
    assert c.state.form.anonymous is False and c.state.form.step is FormStep.CONFIRM
    (report,) = reports(c.say("gửi"))
    assert report.category == "fraud" and report.location is None and report.attachments == ()
    assert report.place_text == "123 Lũy Bán Bích" and report.anonymous is False


def test_the_submission_id_is_deterministic(chat) -> None:
    state = chat().state
    assert submission_id(state, "e1") == submission_id(state, "e1")
    assert submission_id(state, "e1") != submission_id(state, "e2")


def test_cancel_mid_form(chat) -> None:
    c = chat()
    fill_until_where(c)
    turn = c.say("Hủy")
    assert c.state.form is None
    assert reports(turn) == []
    assert turn.replies[-1].text == texts.FORM_CANCELLED


def test_back_goes_one_step_and_keeps_answers(chat) -> None:
    c = chat()
    fill_until_where(c)
    assert c.state.form.step is FormStep.WHERE
    reply = c.say("quay lại").replies[0]
    assert c.state.form.step is FormStep.WHEN and reply.text == texts.FORM_ASK_WHEN
    c.say("khoảng 22 giờ")
    assert c.state.form.occurred_at_text == "khoảng 22 giờ"
    assert c.state.form.description.startswith("Nhóm thanh niên")
    assert c.state.form.step is FormStep.WHERE


def test_back_at_the_first_step_stays(chat) -> None:
    c = chat()
    c.press("#baotin")
    reply = c.press("#quaylai").replies[0]
    assert reply.text.startswith(texts.FORM_FIRST_STEP)
    assert c.state.form.step is FormStep.KIND


def test_a_form_idle_past_the_expiry_is_abandoned_with_a_notice(chat) -> None:
    c = chat()
    fill_until_where(c)
    c.wait(minutes=31)
    turn = c.say("123 Lũy Bán Bích", intent="out_of_scope", confidence=0.9)
    assert c.state.form is None
    assert turn.replies[0].text == texts.FORM_EXPIRED.format(minutes=30)
    assert reports(turn) == []


def test_a_form_answered_within_the_expiry_stays_open(chat) -> None:
    c = chat()
    fill_until_where(c)
    c.wait(minutes=29)
    c.say("123 Lũy Bán Bích")
    c.wait(minutes=29)
    c.press("#boqua")
    assert c.state.form.step is FormStep.ANONYMOUS


def test_a_stale_send_button_after_expiry_only_gets_the_notice(chat) -> None:
    c = chat()
    fill_until_where(c)
    c.wait(hours=1)
    (reply,) = c.press("#gui").replies
    assert reply.text == texts.FORM_EXPIRED.format(minutes=30)


def test_an_emergency_mid_form_comes_first_and_keeps_the_form(chat) -> None:
    c = chat("taythanh")
    fill_until_where(c)
    before = c.state.form

    turn = c.say("cứu với có người cầm dao đâm người trước nhà", intent="emergency", confidence=0.6)

    first = turn.replies[0]
    assert "113" in first.text and "114" in first.text and "115" in first.text
    assert [(b.kind, b.payload) for b in first.buttons] == [("phone", "113"), ("phone", "114"), ("phone", "115")]
    alert = next(e for e in turn.effects if isinstance(e, EmergencyAlert))
    (urgent,) = reports(turn)
    assert urgent.urgent and urgent.kind == "crime" and urgent.category == "violence"
    assert urgent.description == "cứu với có người cầm dao đâm người trước nhà"
    assert alert.oa_key == "taythanh" and alert.submission_id == urgent.submission_id
    assert "địa điểm" in turn.replies[1].text, "reminds where the citizen was"
    assert c.state.form.step is FormStep.WHERE
    assert c.state.form.description == before.description

    c.say("Ngã tư Tây Thạnh")
    c.press("#boqua")
    c.press("#codanh")
    (report,) = reports(c.press("#gui"))
    assert not report.urgent and report.place_text == "Ngã tư Tây Thạnh"


def test_an_emergency_outside_any_form(chat) -> None:
    turn = chat().say("nhà hàng xóm đang cháy lớn", intent="emergency")
    assert turn.replies[0].buttons[1].payload == "114"
    assert len(turn.replies) == 1
    (urgent,) = reports(turn)
    assert urgent.category == "fire_hazard"


def test_a_question_at_a_button_step_is_answered_then_the_form_resumes(chat) -> None:
    c = chat()
    fill_until_where(c)
    c.say("Trước số 5 Tân Kỳ Tân Quý")
    c.press("#boqua")
    assert c.state.form.step is FormStep.ANONYMOUS

    turn = c.say("số điện thoại công an phường", intent="directory.lookup", confidence=0.9)
    assert "02838200002" in turn.replies[0].text
    assert turn.replies[-1].text.startswith("Dạ, Anh/Chị đang điền dở phiếu báo tin")
    assert c.state.form.step is FormStep.ANONYMOUS

    unclear = c.say("hmm", intent="out_of_scope", confidence=0.2).replies[0]
    assert unclear.text.startswith(texts.FORM_CHOOSE_BUTTON)


def test_free_text_steps_take_the_text_even_if_it_looks_like_a_question(chat) -> None:
    c = chat()
    c.press("#baotin")
    c.press("#toigiac")
    c.say("Mất trộm xe máy trước cửa nhà", intent="report.crime", confidence=0.95)
    assert c.state.form.description == "Mất trộm xe máy trước cửa nhà"


def test_photos_sent_at_another_step_are_kept(chat) -> None:
    c = chat()
    c.press("#baotin")
    c.press("#toigiac")
    reply = c.send_image("https://img.example/a.jpg").replies[0]
    assert reply.text.startswith(texts.FORM_ATTACHMENT_NOTED)
    assert c.state.form.attachments == ("https://img.example/a.jpg",)
    assert c.state.form.step is FormStep.DESCRIPTION


def test_form_buttons_without_a_form(chat) -> None:
    reply = chat().press("#xong").replies[0]
    assert reply.text == texts.NO_OPEN_FORM
