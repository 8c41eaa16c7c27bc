"""Pure rules of the Zalo OpenAPI as the egress uses it: paths, request bodies, error classes, limits.

Every Zalo fact of the sending side lives in this module, each with its certainty from
shared/zalo-oa-api.md (section numbers in brackets): [C] confirmed by several sources or Zalo's own
SDKs, [U] uncertain (one source, disputed, or our reading). The ingress's webhook facts live in
domain.py. No I/O, no clock, no randomness: callers pass what they need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from typing import Any, Literal

from contracts import Article, BroadcastTarget, Button, Message, OutboundCommand

# ---------------------------------------------------------------------------------------------
# Conventions (§3.1, §5)
# ---------------------------------------------------------------------------------------------

ACCESS_TOKEN_HEADER = "access_token"  # noqa: S105 - a header name: [C] not "Authorization: Bearer"
SECRET_KEY_HEADER = "secret_key"  # noqa: S105 - a header name: [C] the App Secret travels in it (OAuth)
GET_DATA_PARAM = "data"  # [C] GET endpoints take one URL-encoded JSON parameter `data`
RATE_LIMIT_HEADER = "X-RateLimit-Limit"  # [C]
RATE_REMAIN_HEADER = "X-RateLimit-Remain"  # [C]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"  # [C] the type sub-path is mandatory ([U] bare /message is 404)
BROADCAST_PATH = "/v2.0/oa/message"  # [C] only broadcast still lives on v2 (-240 for anything else)
TAG_FOLLOWER_PATH = "/v2.0/oa/tag/tagfollower"  # [C] the tag is auto-created
UNTAG_FOLLOWER_PATH = "/v2.0/oa/tag/rmfollowerfromtag"  # [C]
ARTICLE_CREATE_PATH = "/v2.0/article/create"  # [C] answers a job token, not the article id
ARTICLE_VERIFY_PATH = "/v2.0/article/verify"  # [C] token → id; -214 while processing
USER_GETLIST_PATH = "/v3.0/oa/user/getlist"  # [C]
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"  # [C] multipart, field `file`, jpg/png ≤ 1 MB
OAUTH_TOKEN_PATH = "/v4/oa/access_token"  # noqa: S105 - a path: [C] on oauth.zaloapp.com, form body, no envelope
UPLOAD_FIELD = "file"  # [C]

ENDPOINTS = (
    CS_MESSAGE_PATH,
    BROADCAST_PATH,
    TAG_FOLLOWER_PATH,
    UNTAG_FOLLOWER_PATH,
    ARTICLE_CREATE_PATH,
    ARTICLE_VERIFY_PATH,
    USER_GETLIST_PATH,
    UPLOAD_IMAGE_PATH,
    OAUTH_TOKEN_PATH,
)

# ---------------------------------------------------------------------------------------------
# Limits (§3.2, §4.4, §5, §6.2)
# ---------------------------------------------------------------------------------------------

TEXT_MAX_CHARS = 2000  # [C]
BUTTONS_MAX = 5  # [U] PHP-SDK
APP_RATE_LIMIT_PER_MINUTE = 4000  # [C] per app, all its OAs together; -32 beyond it
# [U] "the window resets each minute": we read it as fixed windows aligned to the epoch minute (wall
# clock). Our limiter uses the same alignment and a configured limit below Zalo's (3,600 by default)
# as the margin for clock skew and for a phase we cannot observe.
APP_RATE_WINDOW_S = 60.0
ACCESS_TOKEN_TTL_S = 90_000  # [C] 25 h, `expires_in` is a string
REFRESH_TOKEN_TTL_S = 90 * 86_400  # [C] "3 months", single use, rotated on every refresh
GETLIST_COUNT_MAX = 50  # [C]
GETLIST_OFFSET_MAX = 9951  # [C] so at most ~10,000 users are reachable per filter
GETLIST_REACHABLE = GETLIST_OFFSET_MAX + GETLIST_COUNT_MAX
VN_TZ = timezone(timedelta(hours=7))  # [U] the timezone of last_interaction_period dates
FIRST_INTERACTION_DATE = date(2014, 1, 1)  # [U] our floor for period segmentation (OA platform's start)


# ---------------------------------------------------------------------------------------------
# Error catalogue and retry classes (§4.6)
# ---------------------------------------------------------------------------------------------

Reason = Literal[
    "ok", "window_closed", "not_reachable", "invalid", "rate_limited", "token", "expired", "transient", "other"
]


@dataclass(frozen=True)
class ErrorClass:
    """What a Zalo error code means for the egress."""

    reason: Reason
    retry: bool = False  # retry here, with backoff
    retryable: bool = False  # the flag on a final `failed` outcome: may succeed if the producer tries later
    refresh_token: bool = False  # refresh the OA's access token, then retry
    max_tries: int | None = None  # cap on tries for this code (None: send_max_attempts)
    certainty: Literal["C", "U"] = "C"


RATE_LIMITED = -32
ARTICLE_PROCESSING = -214
TOKEN_INVALID = -216
TOKEN_EXPIRED = -220
ZNS_TOKEN_INVALID = -124

_PERMANENT_OTHER = ErrorClass("other")
_UNREACHABLE = ErrorClass("not_reachable")
_INVALID = ErrorClass("invalid")
_TOKEN = ErrorClass("token", retry=True, retryable=True, refresh_token=True)

ZALO_ERRORS: dict[int, ErrorClass] = {
    RATE_LIMITED: ErrorClass("rate_limited", retry=True, retryable=True),  # app or OA limit; back off
    -100: ErrorClass("other", retryable=True),  # attachment_id expired: the producer must re-upload
    -200: ErrorClass("transient", retry=True, retryable=True, max_tries=2),  # "Send message failed": retry once
    -201: _INVALID,  # "<field> is invalid"
    -204: _PERMANENT_OTHER,  # OA disabled
    -205: _PERMANENT_OTHER,  # OA does not exist
    -209: _PERMANENT_OTHER,  # API not supported / app not activated
    -210: _INVALID,  # parameter exceeds allowable limit
    -211: _PERMANENT_OTHER,  # out of quota (feature)
    -212: _PERMANENT_OTHER,  # app has not registered this API
    -213: _UNREACHABLE,  # user has not followed the OA
    ARTICLE_PROCESSING: ErrorClass("transient", retry=True, retryable=True),  # poll again later
    TOKEN_INVALID: _TOKEN,
    -217: _UNREACHABLE,  # user blocked the OA
    -218: _UNREACHABLE,  # out of quota receive (per recipient)
    -219: _PERMANENT_OTHER,  # app removed or disabled
    TOKEN_EXPIRED: _TOKEN,
    -221: _PERMANENT_OTHER,  # OA must be verified
    -223: _PERMANENT_OTHER,  # OA has not authorised this API, or article quota (overloaded code)
    -224: _PERMANENT_OTHER,  # OA tier package upgrade needed
    -227: _UNREACHABLE,  # user banned or inactive > 45 days
    -230: ErrorClass("window_closed"),  # no interaction in the past 7 days
    -231: ErrorClass("window_closed", certainty="U"),  # CS window (one source only)
    -232: ErrorClass("window_closed"),  # no interaction, or it expired
    -233: _INVALID,  # message type invalid or unsupported
    -234: ErrorClass("other", retryable=True),  # not at night (22:00–06:00): the producer reschedules
    -235: _PERMANENT_OTHER,  # API does not support this type of OA
    -240: _INVALID,  # MessageV2 shut down: wrong endpoint
    -242: _PERMANENT_OTHER,  # invalid appsecret_proof
    -244: _UNREACHABLE,  # user restricted this message type
    -248: _PERMANENT_OTHER,  # violates platform standards
    -320: _PERMANENT_OTHER,  # app needs a Zalo Cloud Account
    -321: _PERMANENT_OTHER,  # Zalo Cloud Account out of money
    ZNS_TOKEN_INVALID: _TOKEN,  # ZNS/ZBS family "Access token invalid"
}
UNKNOWN_ERROR = ErrorClass("other", certainty="U")  # [U] our policy: an unknown code is not retried

TOKEN_ERRORS = frozenset(code for code, cls in ZALO_ERRORS.items() if cls.refresh_token)


@dataclass(frozen=True)
class Verdict:
    """The classification of one Zalo call."""

    ok: bool
    reason: Reason
    retry: bool = False
    retryable: bool = False
    refresh_token: bool = False
    max_tries: int | None = None
    not_applied: bool = True  # the request certainly had no effect at Zalo (safe to retry an at-most-once call)
    zalo_error: int | None = None
    zalo_message: str | None = None
    http_status: int | None = None


OK = Verdict(ok=True, reason="ok")


def classify_zalo_error(code: int, message: str | None = None) -> Verdict:
    """A Zalo error answered in the envelope: Zalo processed the request and refused it."""
    cls = ZALO_ERRORS.get(code, UNKNOWN_ERROR)
    return Verdict(
        ok=False,
        reason=cls.reason,
        retry=cls.retry,
        retryable=cls.retryable,
        refresh_token=cls.refresh_token,
        max_tries=cls.max_tries,
        zalo_error=code,
        zalo_message=message,
    )


def classify_http(status: int, body: Any) -> Verdict:
    """A complete HTTP answer. [C] Zalo answers errors with HTTP 200 and `error != 0` in the body."""
    if status == 200:
        if not isinstance(body, dict) or "error" not in body:
            # A proxy page or a truncated body: the call may or may not have taken effect.
            return Verdict(ok=False, reason="transient", retry=True, retryable=True, not_applied=False, http_status=200)
        try:
            code = int(body["error"])
        except (TypeError, ValueError):
            return Verdict(ok=False, reason="transient", retry=True, retryable=True, not_applied=False, http_status=200)
        if code == 0:
            return OK
        message = body.get("message")
        return classify_zalo_error(code, str(message) if message is not None else None)
    if status == 429:
        return Verdict(ok=False, reason="rate_limited", retry=True, retryable=True, http_status=status)
    if status >= 500:
        # A gateway error may come after Zalo acted: retry (at-least-once), but not an at-most-once call.
        return Verdict(ok=False, reason="transient", retry=True, retryable=True, not_applied=False, http_status=status)
    # [U] 404 answers an unknown path ("You are accessing an empty or invalid API"): our bug, not retried.
    return Verdict(ok=False, reason="other", http_status=status)


def classify_transport(connected: bool) -> Verdict:
    """No HTTP answer. `connected=False`: the connection was never made, so the request never left."""
    return Verdict(ok=False, reason="transient", retry=True, retryable=True, not_applied=not connected)


def data_of(body: Any) -> dict[str, Any]:
    """The `data` object of a success envelope ({} when absent or not an object)."""
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------
# Requests (§3.2, §6.3, §6.5)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZaloRequest:
    """One OpenAPI call: POST with a JSON body, or GET with `data=<json>`."""

    method: Literal["GET", "POST"]
    path: str
    body: dict[str, Any]

    def query(self) -> dict[str, str]:
        return {GET_DATA_PARAM: json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))}


class RenderError(ValueError):
    """The command cannot become a valid Zalo request; it fails as `invalid` without a call."""


@dataclass(frozen=True)
class RenderDefaults:
    """What a rendering needs beyond the command (from the registry and settings)."""

    oa_display_name: str
    request_info_image_url: str
    request_info_subtitle: str = "Đang yêu cầu thông tin từ bạn"


def render_button(button: Button) -> dict[str, Any]:
    """[C] button types: oa.query.show (payload string), oa.open.phone {phone_code}, oa.open.url {url}."""
    if button.kind == "query":
        return {"title": button.title, "type": "oa.query.show", "payload": button.payload}
    if button.kind == "phone":
        return {"title": button.title, "type": "oa.open.phone", "payload": {"phone_code": button.payload}}
    if not button.payload.startswith(("https://", "http://")):
        raise RenderError("a url button needs an http(s) URL")
    return {"title": button.title, "type": "oa.open.url", "payload": {"url": button.payload}}


def render_message(message: Message, defaults: RenderDefaults) -> dict[str, Any]:
    """The `message` object of a CS send. One shape per message, checked in this order:
    request_user_info, list, image (+ caption), text (+ buttons)."""
    if message.text is not None and len(message.text) > TEXT_MAX_CHARS:
        raise RenderError("text over 2,000 characters")
    buttons = [render_button(b) for b in message.buttons]
    if len(buttons) > BUTTONS_MAX:
        raise RenderError("more than 5 buttons")
    if message.request_user_info:
        if message.list_elements or buttons:
            raise RenderError("request_user_info carries no list elements or buttons")
        # [C] body shape; [U] at most one element. Zalo requires the card image.
        element = {
            "title": (message.request_title or defaults.oa_display_name)[:100],
            "subtitle": message.request_subtitle or message.text or defaults.request_info_subtitle,
            "image_url": message.image_url or defaults.request_info_image_url,
        }
        payload = {"template_type": "request_user_info", "elements": [element]}
        return {"attachment": {"type": "template", "payload": payload}}
    if message.list_elements:
        if message.image_url:
            raise RenderError("a list message has no separate image")
        elements = []
        for el in message.list_elements:
            item: dict[str, Any] = {"title": el.title}
            if el.subtitle:
                item["subtitle"] = el.subtitle
            if el.image_url:
                item["image_url"] = el.image_url
            if el.url:
                # [C] in a list, default_action is written flat (not under payload)
                item["default_action"] = {"type": "oa.open.url", "url": el.url}
            elements.append(item)
        # [U] the list template on v3 (worked on v2; no v3 doc page found); text next to it is our reading.
        list_payload: dict[str, Any] = {"template_type": "list", "elements": elements}
        if buttons:
            list_payload["buttons"] = buttons
        out: dict[str, Any] = {"attachment": {"type": "template", "payload": list_payload}}
        if message.text:
            out["text"] = message.text
        return out
    if message.image_url:
        if buttons:
            raise RenderError("buttons cannot ride on an image")
        media = {"template_type": "media", "elements": [{"media_type": "image", "url": message.image_url}]}
        out = {"attachment": {"type": "template", "payload": media}}
        if message.text:
            out["text"] = message.text  # [C] caption
        return out
    if not message.text:
        raise RenderError("nothing to send")
    if buttons:
        # [U] on v3: text + buttons with no template_type
        return {"text": message.text, "attachment": {"type": "template", "payload": {"buttons": buttons}}}
    return {"text": message.text}


def render_send(cmd: OutboundCommand, defaults: RenderDefaults) -> ZaloRequest:
    """POST /v3.0/oa/message/cs with {"recipient": {"user_id"}, "message": {...}}."""
    if cmd.message_type != "cs":
        # [C] UID transaction/promotion moved to paid ZBS templates (2026-01-01); not built here.
        raise RenderError(f"message_type {cmd.message_type} is not supported (only cs)")
    assert cmd.message is not None and cmd.user_id
    body = {"recipient": {"user_id": cmd.user_id}, "message": render_message(cmd.message, defaults)}
    return ZaloRequest("POST", CS_MESSAGE_PATH, body)


def render_tag(cmd: OutboundCommand) -> ZaloRequest:
    """tag_user / untag_user. [C] paths and body; [U] user_id as a string (NET-SDK) rather than a number."""
    assert cmd.user_id and cmd.tag_name
    path = TAG_FOLLOWER_PATH if cmd.action == "tag_user" else UNTAG_FOLLOWER_PATH
    return ZaloRequest("POST", path, {"user_id": cmd.user_id, "tag_name": cmd.tag_name})


def render_article_create(article: Article) -> ZaloRequest:
    """[C] POST /v2.0/article/create; [U] status defaults to hide, so it is set; a cover is required."""
    blocks: list[dict[str, Any]] = []
    for block in article.body:
        if block.type == "text":
            if not block.content:
                raise RenderError("a text block needs content")
            blocks.append({"type": "text", "content": block.content})
        else:
            if not block.url:
                raise RenderError("an image block needs a url")
            image: dict[str, Any] = {"type": "image", "url": block.url}
            if block.caption:
                image["caption"] = block.caption
            blocks.append(image)
    body = {
        "type": "normal",
        "title": article.title,
        "author": article.author,
        "description": article.description,
        "cover": {"cover_type": "photo", "photo_url": article.cover_url, "status": "show"},
        "body": blocks,
        "status": "show",
        "comment": "show",
    }
    return ZaloRequest("POST", ARTICLE_CREATE_PATH, body)


def render_article_verify(token: str) -> ZaloRequest:
    return ZaloRequest("POST", ARTICLE_VERIFY_PATH, {"token": token})


def render_target(target: BroadcastTarget | None) -> dict[str, str]:
    """[U] encoding: comma-separated strings (NET-SDK; JAVA-SDK sends numbers, SPEC arrays) and the key
    `platform` (JAVA-SDK; NET-SDK says `platforms`). No target means everyone: gender 0 (all)."""
    if target is None:
        return {"gender": "0"}
    out = {"gender": str(target.gender)}
    for key in ("ages", "cities", "locations", "platform"):
        values = getattr(target, key)
        if values:
            out[key] = ",".join(str(v) for v in values)
    return out


def render_broadcast(article_id: str, target: BroadcastTarget | None) -> ZaloRequest:
    """[C] POST /v2.0/oa/message with recipient.target and one article element."""
    element = {"media_type": "article", "attachment_id": article_id}
    body = {
        "recipient": {"target": render_target(target)},
        "message": {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}},
    }
    return ZaloRequest("POST", BROADCAST_PATH, body)


def render_getlist(offset: int, count: int, period: str | None = None) -> ZaloRequest:
    """[C] GET /v3.0/oa/user/getlist?data={offset,count,is_follower,last_interaction_period}."""
    if not 0 <= offset <= GETLIST_OFFSET_MAX or not 1 <= count <= GETLIST_COUNT_MAX:
        raise RenderError("getlist offset/count outside Zalo's caps")
    data: dict[str, Any] = {"offset": offset, "count": count, "is_follower": "true"}  # [U] string "true"
    if period:
        data["last_interaction_period"] = period
    return ZaloRequest("GET", USER_GETLIST_PATH, data)


def parse_getlist(body: Any) -> tuple[int, list[str]]:
    """(total, user ids of the page). [U] `count` echoes the request; the page size is len(users)."""
    data = data_of(body)
    users = data.get("users") if isinstance(data.get("users"), list) else []
    ids = [str(u["user_id"]) for u in users if isinstance(u, dict) and u.get("user_id") is not None]
    try:
        total = int(data.get("total", len(ids)))
    except (TypeError, ValueError):
        total = len(ids)
    return total, ids


def period_range(first: date, last: date) -> str:
    """A `last_interaction_period` covering [first, last] (Vietnam calendar days): YYYY_MM_DD:YYYY_MM_DD."""
    return f"{first:%Y_%m_%d}:{last:%Y_%m_%d}"


# ---------------------------------------------------------------------------------------------
# OAuth v4 (§5)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_in_s: int


@dataclass(frozen=True)
class OAuthRejected:
    """Zalo refused the refresh token: it is dead (used, expired or revoked). [U] no documented code
    exists; the simulator answers -14014."""

    code: int
    name: str


def refresh_form(app_id: str, refresh_token: str) -> dict[str, str]:
    """[C] form body of the refresh grant (header secret_key: App Secret)."""
    return {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}


def parse_token_response(body: Any) -> TokenGrant | OAuthRejected | None:
    """[C] success is {access_token, refresh_token, expires_in: "90000"} with no envelope. An `error`
    body is a refusal. None: an answer we cannot read (the token may or may not have rotated)."""
    if not isinstance(body, dict):
        return None
    source = body
    if "access_token" not in body and isinstance(body.get("data"), dict):
        source = body["data"]  # [U] a legacy client reads data.access_token; tolerated, never expected
    access, refresh = source.get("access_token"), source.get("refresh_token")
    if isinstance(access, str) and access and isinstance(refresh, str) and refresh:
        try:
            expires_in = int(str(source.get("expires_in", ACCESS_TOKEN_TTL_S)))
        except ValueError:
            expires_in = ACCESS_TOKEN_TTL_S
        return TokenGrant(access, refresh, expires_in)
    if body.get("error") not in (None, 0, "0"):
        try:
            code = int(body["error"])
        except (TypeError, ValueError):
            code = -1
        return OAuthRejected(code, str(body.get("error_name") or body.get("message") or "refused"))
    return None
