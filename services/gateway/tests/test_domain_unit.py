"""The ingress's pure rules: signature, identity, freshness, normalisation of every event shape."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from services.gateway import domain
from services.gateway.tests.support import APP_ID, REGISTRY, TANPHU, signed_webhook, text_webhook

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
USER = "246845883529197922"


def norm(body: dict) -> domain.ZaloEvent:
    return domain.normalise(body, REGISTRY.by_id(domain.oa_id_of(body) or ""), REGISTRY, NOW, "gateway-ingress")


# -- signature -------------------------------------------------------------------------------


def test_signature_is_sha256_of_app_id_body_timestamp_secret():
    raw = b'{"event_name":"user_send_text","timestamp":"1751100041636"}'
    expected = hashlib.sha256(APP_ID.encode() + raw + b"1751100041636" + b"secret").hexdigest()
    assert domain.expected_signature(APP_ID, raw, "1751100041636", "secret") == expected


@pytest.mark.parametrize("header", ["mac={sig}", "{sig}", "MAC={sig}", "  mac={sig}  ", "mac={upper}"])
def test_signature_accepted_with_or_without_mac_prefix(header):
    sig = domain.expected_signature(APP_ID, b"{}", "1", "s")
    assert domain.signature_matches(header.format(sig=sig, upper=sig.upper()), sig)


@pytest.mark.parametrize("header", [None, "", "mac=", "mac=00", "deadbeef"])
def test_signature_rejected_when_missing_or_wrong(header):
    assert not domain.signature_matches(header, domain.expected_signature(APP_ID, b"{}", "1", "s"))


def test_signature_over_the_raw_bytes_not_reserialised_json():
    body = text_webhook(USER, "xin chào", NOW_MS)
    raw, headers = signed_webhook(body)
    spaced = raw.replace(b",", b", ")  # same JSON, other bytes
    sig = headers["X-ZEvent-Signature"]
    assert domain.signature_matches(
        sig, domain.expected_signature(APP_ID, raw, str(body["timestamp"]), "dev-oa-secret-key")
    )
    assert not domain.signature_matches(
        sig, domain.expected_signature(APP_ID, spaced, str(body["timestamp"]), "dev-oa-secret-key")
    )


# -- parsing, identity, freshness ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"not json", "body is not JSON"),
        (b"[1]", "body is not a JSON object"),
        (b'{"timestamp":"1"}', "missing event_name"),
    ],
)
def test_malformed_bodies_are_400(raw, detail):
    with pytest.raises(domain.WebhookRejected) as info:
        domain.parse_body(raw)
    assert info.value.status == 400 and info.value.detail == detail


def test_freshness_window():
    domain.check_freshness(NOW_MS - 3600_000, NOW, max_age_s=3 * 3600, max_skew_s=300)
    with pytest.raises(domain.WebhookRejected) as old:
        domain.check_freshness(NOW_MS - 4 * 3600_000, NOW, max_age_s=3 * 3600, max_skew_s=300)
    with pytest.raises(domain.WebhookRejected) as future:
        domain.check_freshness(NOW_MS + 600_000, NOW, max_age_s=3 * 3600, max_skew_s=300)
    assert old.value.status == future.value.status == 401


def test_event_id_is_msg_id_for_messages_and_a_stable_hash_otherwise():
    text = text_webhook(USER, "a", NOW_MS, msg_id="96d3cdf3af150460909")
    assert domain.event_id_of(text, TANPHU.oa_id, USER) == "zalo:96d3cdf3af150460909"
    echo = {**text, "event_name": "oa_send_text"}
    assert domain.event_id_of(echo, TANPHU.oa_id, USER) == "zalo-echo:96d3cdf3af150460909"
    follow = {"event_name": "follow", "oa_id": TANPHU.oa_id, "follower": {"id": USER}, "timestamp": "1"}
    first = domain.event_id_of(follow, TANPHU.oa_id, USER)
    assert first.startswith("zalo-h:") and first == domain.event_id_of(dict(follow), TANPHU.oa_id, USER)
    assert first != domain.event_id_of({**follow, "timestamp": "2"}, TANPHU.oa_id, USER)


def test_recent_ids_window_and_bound():
    recent = domain.RecentIds(window_s=10, max_entries=2)
    recent.add("a", 0)
    assert recent.contains("a", 5) and not recent.contains("a", 11)
    recent.add("b", 1)
    recent.add("c", 2)
    assert not recent.contains("a", 3), "the oldest entry is evicted beyond max_entries"
    recent.add("d", 30)
    assert "b" not in recent._seen and "c" not in recent._seen, "expired entries are dropped as new ones come"


# -- normalisation of each event type --------------------------------------------------------


def test_user_send_text():
    event = norm(text_webhook(USER, "Cho hỏi thủ tục", NOW_MS, msg_id="m1"))
    assert (event.oa_key, event.user_id, event.direction, event.text) == ("tanphu", USER, "inbound", "Cho hỏi thủ tục")
    assert event.message_id == "m1" and event.zalo_timestamp_ms == NOW_MS and event.app_id == APP_ID


def test_user_send_image_with_caption():
    body = text_webhook(USER, "ảnh hiện trường", NOW_MS)
    body["event_name"] = "user_send_image"
    body["message"]["attachments"] = [
        {"type": "image", "payload": {"thumbnail": "https://f6.zdn.vn/t.jpg", "url": "https://f6.zdn.vn/1.jpg"}}
    ]
    event = norm(body)
    assert [a.model_dump(exclude_none=True) for a in event.attachments] == [
        {"type": "image", "url": "https://f6.zdn.vn/1.jpg", "thumbnail": "https://f6.zdn.vn/t.jpg"}
    ]
    assert event.text == "ảnh hiện trường"


def test_user_send_file_size_string():
    body = text_webhook(USER, "", NOW_MS)
    body["event_name"] = "user_send_file"
    body["message"].pop("text")
    body["message"]["attachments"] = [
        {"type": "file", "payload": {"url": "https://x/f.pdf", "size": "9999", "name": "don.pdf", "type": "pdf"}}
    ]
    (att,) = norm(body).attachments
    assert (att.type, att.size, att.name) == ("file", 9999, "don.pdf")


@pytest.mark.parametrize(("lat", "lon"), [("10.7923119", "106.7820651"), (10.7923119, 106.7820651)])
def test_user_send_location_with_string_or_number_coordinates(lat, lon):
    body = text_webhook(USER, "Cơm Coffee New Sky", NOW_MS)
    body["event_name"] = "user_send_location"
    body["message"]["attachments"] = [
        {"type": "location", "payload": {"coordinates": {"latitude": lat, "longitude": lon}}}
    ]
    event = norm(body)
    assert event.location is not None
    assert (event.location.latitude, event.location.longitude) == (10.7923119, 106.7820651)
    assert event.location.name == "Cơm Coffee New Sky"
    assert event.attachments == []


def test_location_with_unusable_coordinates_is_dropped_not_fatal():
    body = text_webhook(USER, "", NOW_MS)
    body["event_name"] = "user_send_location"
    body["message"]["attachments"] = [{"type": "location", "payload": {"coordinates": {"lat": "1", "long": "2"}}}]
    assert norm(body).location is None


@pytest.mark.parametrize("name", ["follow", "unfollow"])
def test_follow_and_unfollow_have_no_sender(name):
    body = {
        "oa_id": TANPHU.oa_id,
        "follower": {"id": USER},
        "user_id_by_app": "552172779717587730",
        "event_name": name,
        "source": "oa_profile",
        "app_id": APP_ID,
        "timestamp": str(NOW_MS),
    }
    event = norm(body)
    assert (event.oa_id, event.user_id, event.direction, event.follow_source) == (
        TANPHU.oa_id,
        USER,
        "management",
        "oa_profile",
    )
    assert event.sync is False and event.message_id is None


NESTED_INFO = {
    "name": "Nguyễn Văn A",
    "phone": "84912345678",
    "user_dob": "30/10/1999",
    "full_address": {"user_city": "Thành phố Hồ Chí Minh", "user_ward": "Phường Sơn Kỳ", "user_address": "Đường số 13"},
}
FLAT_INFO = {"name": "Nguyễn Văn A", "phone": "0912345678", "address": "12 Lê Lợi", "city": "HCM", "ward": "Sơn Kỳ"}


@pytest.mark.parametrize("info", [NESTED_INFO, FLAT_INFO])
def test_user_submit_info_flat_and_nested_kept_as_sent(info):
    body = {
        "sender": {"id": USER},
        "recipient": {"id": TANPHU.oa_id},
        "event_name": "user_submit_info",
        "app_id": APP_ID,
        "timestamp": str(NOW_MS),
        "info": info,
    }
    event = norm(body)
    assert event.direction == "inbound" and event.user_id == USER and event.submitted_info == info
    assert event.event_id.startswith("zalo-h:")


def test_oa_echo_and_receipts_belong_to_the_oa_and_the_recipient():
    echo = {
        "app_id": APP_ID,
        "event_name": "oa_send_text",
        "sender": {"id": TANPHU.oa_id, "admin_id": "1"},
        "recipient": {"id": USER},
        "message": {"text": "Chào bạn", "msg_id": "e1"},
        "timestamp": str(NOW_MS),
    }
    event = norm(echo)
    assert (event.oa_id, event.user_id, event.direction, event.event_id) == (TANPHU.oa_id, USER, "echo", "zalo-echo:e1")
    seen = {**echo, "event_name": "user_seen_message", "message": {"msg_ids": ["e2", "e1"]}}
    seen_event = norm(seen)
    assert seen_event.direction == "receipt" and seen_event.user_id == USER
    assert seen_event.event_id == norm({**seen, "message": {"msg_ids": ["e1", "e2"]}}).event_id, "order-insensitive"


def test_user_click_chatnow_uses_flat_ids():
    body = {
        "event_name": "user_click_chatnow",
        "oa_id": TANPHU.oa_id,
        "user_id": USER,
        "user_id_by_app": "1",
        "app_id": APP_ID,
        "timestamp": str(NOW_MS),
    }
    event = norm(body)
    assert (event.oa_key, event.user_id, event.direction) == ("tanphu", USER, "inbound")


def test_unknown_event_and_unregistered_oa_are_kept():
    body = text_webhook(USER, "x", NOW_MS, oa_id="999")
    body["event_name"] = "widget_interaction_accepted"
    event = norm(body)
    assert event.direction == "unknown" and event.oa_key == "unregistered" and event.raw == body
