"""Unit tests of the pure Zalo rules: no server, no fixtures."""

import hashlib

import pytest

from zalosim import rules

pytestmark = pytest.mark.unit

NOW = 1_750_000_000.0
HOUR = 3600.0


def test_signature_is_plain_sha256_of_app_id_body_timestamp_secret() -> None:
    body = b'{"event_name":"user_send_text","timestamp":"1751100041636"}'
    expected = hashlib.sha256(b"4318000000000000000" + body + b"1751100041636" + b"s3cret").hexdigest()
    value = rules.signature_header_value("4318000000000000000", body, "1751100041636", "s3cret")
    assert value == f"mac={expected}"


@pytest.mark.parametrize(
    ("age_hours", "expected"),
    [(0, "reply"), (48, "reply"), (48.01, "sub_quota"), (7 * 24, "sub_quota")],
)
def test_window_is_free_for_48_hours_then_billed_until_7_days(age_hours: float, expected: str) -> None:
    assert rules.cs_quota_type(NOW - age_hours * HOUR, NOW) == expected


@pytest.mark.parametrize("last", [None, NOW - 7 * 24 * HOUR - 1])
def test_window_closed_after_7_days_or_never(last: float | None) -> None:
    with pytest.raises(rules.ZaloApiError) as caught:
        rules.cs_quota_type(last, NOW)
    assert caught.value.code == -230
    assert caught.value.message == "User has not interacted with the OA in the past 7 days"


def test_text_limit_is_2000_characters() -> None:
    assert rules.parse_cs_message({"text": "ư" * 2000}).kind is rules.CsKind.TEXT
    with pytest.raises(rules.ZaloApiError, match="text is invalid"):
        rules.parse_cs_message({"text": "ư" * 2001})


def _buttons(count: int) -> dict:
    button = {"title": "Thủ tục", "type": "oa.query.show", "payload": "#thutuc"}
    return {"text": "Chọn:", "attachment": {"type": "template", "payload": {"buttons": [button] * count}}}


def test_at_most_five_buttons() -> None:
    assert len(rules.parse_cs_message(_buttons(5)).buttons) == 5
    with pytest.raises(rules.ZaloApiError, match="buttons is invalid"):
        rules.parse_cs_message(_buttons(6))


def test_image_needs_exactly_one_of_url_and_attachment_id() -> None:
    element = {"media_type": "image", "url": "https://x/y.jpg", "attachment_id": "abc"}
    message = {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}}
    with pytest.raises(rules.ZaloApiError) as caught:
        rules.parse_cs_message(message)
    assert caught.value.code == -201


def test_phone_button_needs_phone_code() -> None:
    bad = _buttons(1)
    bad["attachment"]["payload"]["buttons"] = [{"title": "Gọi", "type": "oa.open.phone", "payload": {}}]
    with pytest.raises(rules.ZaloApiError, match="phone_code is invalid"):
        rules.parse_cs_message(bad)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"offset": 0, "count": 51}, "count"),
        ({"offset": 9952, "count": 50}, "offset"),
        ({"offset": 0}, "count"),
        ({"offset": 0, "count": 10, "last_interaction_period": "L9D"}, "last_interaction_period"),
        ({"offset": 0, "count": 10, "is_follower": "yes"}, "is_follower"),
    ],
)
def test_getlist_limits(data: dict, field: str) -> None:
    with pytest.raises(rules.ZaloApiError, match=f"{field} is invalid"):
        rules.parse_getlist(data, NOW)


def test_getlist_accepts_the_documented_extremes() -> None:
    query = rules.parse_getlist({"offset": "9951", "count": 50, "is_follower": "true"}, NOW)
    assert (query.offset, query.count, query.is_follower) == (9951, 50, True)


def test_period_range_covers_whole_vietnam_days() -> None:
    start, end = rules.period_bounds("2025_07_01:2025_07_02", NOW)
    assert end - start == 2 * 86400
    assert rules.format_interaction_date(start) == "01/07/2025"


def _article(**changes: object) -> dict:
    article = {
        "type": "normal",
        "title": "Thông báo",
        "author": "Công an phường",
        "description": "Tóm tắt",
        "cover": {"cover_type": "photo", "photo_url": "https://cdn.example/c.jpg", "status": "show"},
        "body": [{"type": "text", "content": "Nội dung"}],
    }
    return article | changes


def test_article_rules() -> None:
    assert rules.parse_article(_article()).status == "hide"
    with pytest.raises(rules.ZaloApiError, match="title is invalid"):
        rules.parse_article(_article(title="x" * 150))
    with pytest.raises(rules.ZaloApiError, match="description is invalid"):
        rules.parse_article(_article(description="x" * 300))
    with pytest.raises(rules.ZaloApiError, match="cover value is invalid"):
        rules.parse_article(_article(cover={"cover_type": "photo", "photo_url": "http://insecure/c.jpg"}))


def test_v2_message_without_target_is_shut_down() -> None:
    with pytest.raises(rules.ZaloApiError) as caught:
        rules.parse_v2_message({"recipient": {"user_id": "1"}, "message": {"text": "hi"}})
    assert caught.value.code == -240


def test_upload_accepts_only_png_and_jpeg_up_to_1_mb() -> None:
    assert rules.check_upload_image(b"\xff\xd8\xff" + b"0" * 100) == "image/jpeg"
    for data in (b"GIF89a....", b"\x89PNG\r\n\x1a\n" + b"0" * rules.UPLOAD_IMAGE_MAX_BYTES):
        with pytest.raises(rules.ZaloApiError, match="We only support png and jpeg"):
            rules.check_upload_image(data)


def test_pkce_challenge_matches_rfc7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
    assert rules.pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
