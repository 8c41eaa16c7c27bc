"""Pure rules of the sending side: rendering of each message type, error classes, OAuth answers, the
follower walk's segmentation, token sealing."""

from __future__ import annotations

import json
from datetime import date

import pytest

from contracts import Article, ArticleBlock, BroadcastTarget, Button, ListElement, Message
from services.gateway import zalo_api
from services.gateway.store import Sealer
from services.gateway.sync import SyncReport, walk_followers
from services.gateway.tests.support import command

pytestmark = pytest.mark.unit

DEFAULTS = zalo_api.RenderDefaults("Công an phường Sơn Kỳ", "https://cdn.example/card.png")
USER = "246845883529197922"


def render(message: Message) -> dict:
    request = zalo_api.render_send(command(USER, message=message), DEFAULTS)
    assert (request.method, request.path) == ("POST", "/v3.0/oa/message/cs")
    assert request.body["recipient"] == {"user_id": USER}
    return request.body["message"]


# -- rendering -------------------------------------------------------------------------------


def test_text():
    assert render(Message(text="Xin chào")) == {"text": "Xin chào"}


def test_text_with_each_button_kind():
    message = Message(
        text="Chọn:",
        buttons=[
            Button(title="Thủ tục", kind="query", payload="#thutuc"),
            Button(title="Gọi trực ban", kind="phone", payload="0900000000"),
            Button(title="Cổng DVC", kind="url", payload="https://dichvucong.gov.vn"),
        ],
    )
    assert render(message) == {
        "text": "Chọn:",
        "attachment": {
            "type": "template",
            "payload": {
                "buttons": [
                    {"title": "Thủ tục", "type": "oa.query.show", "payload": "#thutuc"},
                    {"title": "Gọi trực ban", "type": "oa.open.phone", "payload": {"phone_code": "0900000000"}},
                    {"title": "Cổng DVC", "type": "oa.open.url", "payload": {"url": "https://dichvucong.gov.vn"}},
                ]
            },
        },
    }


def test_image_by_url_with_caption():
    assert render(Message(image_url="https://cdn.example/a.png", text="Ảnh")) == {
        "text": "Ảnh",
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": "https://cdn.example/a.png"}],
            },
        },
    }


def test_list_with_default_actions_and_buttons():
    message = Message(
        list_elements=[
            ListElement(title="Tạm trú", subtitle="Hồ sơ", image_url="https://cdn.example/1.png", url="https://x/1"),
            ListElement(title="Tạm vắng"),
        ],
        buttons=[Button(title="Khác", kind="query", payload="#khac")],
    )
    assert render(message) == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "list",
                "elements": [
                    {
                        "title": "Tạm trú",
                        "subtitle": "Hồ sơ",
                        "image_url": "https://cdn.example/1.png",
                        "default_action": {"type": "oa.open.url", "url": "https://x/1"},
                    },
                    {"title": "Tạm vắng"},
                ],
                "buttons": [{"title": "Khác", "type": "oa.query.show", "payload": "#khac"}],
            },
        }
    }


def test_request_user_info_defaults_title_and_image():
    assert render(Message(request_user_info=True, request_subtitle="Để gửi phản ánh")) == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "request_user_info",
                "elements": [
                    {
                        "title": "Công an phường Sơn Kỳ",
                        "subtitle": "Để gửi phản ánh",
                        "image_url": "https://cdn.example/card.png",
                    }
                ],
            },
        }
    }


@pytest.mark.parametrize(
    "message",
    [
        Message(image_url="https://cdn.example/a.png", buttons=[Button(title="b", kind="query", payload="#b")]),
        Message(request_user_info=True, list_elements=[ListElement(title="x")]),
        Message(text="x", buttons=[Button(title="b", kind="url", payload="ftp://x")]),
        Message(list_elements=[ListElement(title="x")], image_url="https://cdn.example/a.png"),
    ],
)
def test_messages_zalo_cannot_carry_are_render_errors(message):
    with pytest.raises(zalo_api.RenderError):
        render(message)


def test_only_cs_messages_are_sent():
    with pytest.raises(zalo_api.RenderError):
        zalo_api.render_send(command(USER, text="x", message_type="promotion"), DEFAULTS)


@pytest.mark.parametrize(
    ("action", "path"), [("tag_user", "/v2.0/oa/tag/tagfollower"), ("untag_user", "/v2.0/oa/tag/rmfollowerfromtag")]
)
def test_tag_and_untag(action, path):
    request = zalo_api.render_tag(command(USER, action=action, tag_name="Phường Sơn Kỳ"))
    assert (request.path, request.body) == (path, {"user_id": USER, "tag_name": "Phường Sơn Kỳ"})


ARTICLE = Article(
    title="Cảnh báo lừa đảo",
    description="Thủ đoạn mới",
    author="Công an quận Tân Phú",
    cover_url="https://cdn.example/cover.jpg",
    body=[
        ArticleBlock(type="text", content="Người dân cảnh giác"),
        ArticleBlock(type="image", url="https://cdn.example/1.jpg", caption="Ảnh"),
    ],
)


def test_article_create_verify_and_broadcast():
    create = zalo_api.render_article_create(ARTICLE)
    assert create.path == "/v2.0/article/create"
    assert create.body["cover"] == {
        "cover_type": "photo",
        "photo_url": "https://cdn.example/cover.jpg",
        "status": "show",
    }
    assert create.body["status"] == "show" and create.body["type"] == "normal"
    assert create.body["body"] == [
        {"type": "text", "content": "Người dân cảnh giác"},
        {"type": "image", "url": "https://cdn.example/1.jpg", "caption": "Ảnh"},
    ]
    assert zalo_api.render_article_verify("tok").body == {"token": "tok"}
    broadcast = zalo_api.render_broadcast("art1", BroadcastTarget(cities=[4], ages=[2, 3], gender=0))
    assert broadcast.path == "/v2.0/oa/message"
    assert broadcast.body == {
        "recipient": {"target": {"gender": "0", "ages": "2,3", "cities": "4"}},
        "message": {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [{"media_type": "article", "attachment_id": "art1"}]},
            }
        },
    }
    assert zalo_api.render_target(None) == {"gender": "0"}


def test_getlist_uses_the_data_param_and_zalo_caps():
    request = zalo_api.render_getlist(9951, 50, "2026_01_01:2026_01_31")
    assert request.method == "GET"
    assert json.loads(request.query()["data"]) == {
        "offset": 9951,
        "count": 50,
        "is_follower": "true",
        "last_interaction_period": "2026_01_01:2026_01_31",
    }
    for offset, count in ((9952, 50), (0, 51), (0, 0)):
        with pytest.raises(zalo_api.RenderError):
            zalo_api.render_getlist(offset, count)
    body = {"error": 0, "data": {"total": 6, "count": 15, "offset": 0, "users": [{"user_id": "1"}, {"user_id": 2}]}}
    assert zalo_api.parse_getlist(body) == (6, ["1", "2"])
    assert zalo_api.period_range(date(2026, 1, 2), date(2026, 2, 3)) == "2026_01_02:2026_02_03"


# -- classification --------------------------------------------------------------------------


def zalo(code: int) -> zalo_api.Verdict:
    return zalo_api.classify_http(200, {"error": code, "message": "m"})


def test_success():
    assert zalo_api.classify_http(200, {"error": 0, "message": "Success", "data": {}}).ok


@pytest.mark.parametrize("code", [-216, -220, -124])
def test_token_errors_refresh(code):
    v = zalo(code)
    assert (v.reason, v.refresh_token, v.retry, v.zalo_error) == ("token", True, True, code)


@pytest.mark.parametrize(
    ("code", "reason", "retry", "retryable"),
    [
        (-32, "rate_limited", True, True),
        (-200, "transient", True, True),
        (-214, "transient", True, True),
        (-230, "window_closed", False, False),
        (-232, "window_closed", False, False),
        (-201, "invalid", False, False),
        (-240, "invalid", False, False),
        (-213, "not_reachable", False, False),
        (-217, "not_reachable", False, False),
        (-227, "not_reachable", False, False),
        (-244, "not_reachable", False, False),
        (-234, "other", False, True),
        (-100, "other", False, True),
        (-224, "other", False, False),
        (-99999, "other", False, False),
    ],
)
def test_zalo_error_classes(code, reason, retry, retryable):
    v = zalo(code)
    assert (v.ok, v.reason, v.retry, v.retryable, v.refresh_token, v.not_applied) == (
        False,
        reason,
        retry,
        retryable,
        False,
        True,
    )


def test_send_failed_is_retried_once_only():
    assert zalo(-200).max_tries == 2


@pytest.mark.parametrize(
    ("status", "body", "reason", "retry", "not_applied"),
    [
        (503, None, "transient", True, False),
        (500, {"error": 0}, "transient", True, False),
        (429, None, "rate_limited", True, True),
        (404, {"error": 404, "message": "You are accessing an empty or invalid API"}, "other", False, True),
        (200, None, "transient", True, False),
        (200, {"message": "no error key"}, "transient", True, False),
    ],
)
def test_http_classes(status, body, reason, retry, not_applied):
    v = zalo_api.classify_http(status, body)
    assert (v.ok, v.reason, v.retry, v.not_applied) == (False, reason, retry, not_applied)


def test_transport_failures_are_transient_and_only_unconnected_ones_certainly_not_applied():
    assert zalo_api.classify_transport(connected=False).not_applied
    timeout = zalo_api.classify_transport(connected=True)
    assert timeout.retry and not timeout.not_applied


def test_every_catalogued_code_has_a_certainty():
    assert all(cls.certainty in ("C", "U") for cls in zalo_api.ZALO_ERRORS.values())
    assert {-216, -220, -124} == zalo_api.TOKEN_ERRORS


# -- OAuth -----------------------------------------------------------------------------------


def test_token_response_success_with_string_expiry():
    grant = zalo_api.parse_token_response({"access_token": "a", "refresh_token": "r", "expires_in": "90000"})
    assert grant == zalo_api.TokenGrant("a", "r", 90000)


def test_token_response_refusal_and_garbage():
    refused = zalo_api.parse_token_response({"error": -14014, "error_name": "Invalid refresh token."})
    assert refused == zalo_api.OAuthRejected(-14014, "Invalid refresh token.")
    assert zalo_api.parse_token_response("<html>") is None
    assert zalo_api.parse_token_response({"access_token": "a"}) is None
    assert zalo_api.refresh_form("app", "r") == {"refresh_token": "r", "app_id": "app", "grant_type": "refresh_token"}


def test_sealer_round_trip_and_clear_values():
    key = Sealer.new_key()
    sealer = Sealer(key)
    sealed = sealer.seal("secret-token")
    assert sealed != "secret-token" and sealer.open(sealed) == "secret-token"
    assert sealer.open("legacy-clear") == "legacy-clear"
    assert Sealer(None).seal("x") == "x"
    with pytest.raises(ValueError):
        Sealer(None).open(sealed)
    with pytest.raises(ValueError):
        Sealer(Sealer.new_key()).open(sealed)


# -- follower walk ---------------------------------------------------------------------------


class FakeLister:
    """Followers with a last-interaction day each; getlist semantics with a small offset cap."""

    def __init__(self, days: dict[str, date], page: int, cap: int) -> None:
        self.days = days
        self.page = page
        self.cap = cap
        self.calls: list[tuple[str | None, int]] = []

    async def fetch(self, segment: str | None, offset: int) -> tuple[int, list[str]]:
        assert offset <= self.cap
        self.calls.append((segment, offset))
        ids = sorted(self.days)
        if segment:
            first, last = (date(*map(int, part.split("_"))) for part in segment.split(":"))
            ids = [u for u in ids if first <= self.days[u] <= last]
        return len(ids), ids[offset : offset + self.page]


async def walk(days: dict[str, date], cap: int) -> tuple[list[str], SyncReport, FakeLister]:
    lister = FakeLister(days, page=5, cap=cap)
    published: list[str] = []

    async def publish(ids: list[str], segment: str | None) -> None:
        published.extend(ids)

    report = SyncReport("x")
    await walk_followers(
        lister.fetch, publish, report, today=date(2026, 11, 30), page_size=5, offset_cap=cap, first_day=date(2026, 1, 1)
    )
    return published, report, lister


async def test_walk_pages_the_whole_list_when_it_fits():
    days = {f"u{i:03}": date(2026, 5, 1) for i in range(12)}
    published, report, lister = await walk(days, cap=20)
    assert published == sorted(days) and report.segments == 1 and report.capped == 0
    assert [c[1] for c in lister.calls] == [0, 5, 10]


async def test_walk_segments_by_interaction_date_beyond_the_offset_cap():
    days = {f"u{i:03}": date(2026, 1 + i % 11, 1 + i % 28) for i in range(80)}
    published, report, _ = await walk(days, cap=10)  # 15 reachable per listing
    assert sorted(published) == sorted(days) and len(published) == len(set(published))
    assert report.segments > 1 and report.capped == 0 and report.followers_reported == 80


async def test_walk_counts_what_one_day_cannot_list():
    days = {f"u{i:03}": date(2026, 3, 3) for i in range(40)}
    published, report, _ = await walk(days, cap=10)
    assert len(published) == 15 and report.capped == 25
