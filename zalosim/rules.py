"""Every Zalo rule the simulator enforces, in one place: codes, messages, limits, windows, signing.

Facts come from docs/zalo-oa-api.md (the shared fact sheet; section numbers in brackets).
[C] = confirmed by the sources, [U] = uncertain (single source, disputed, or our own reading).
Everything here is pure: no I/O, no clock (``now`` is always passed in), no randomness.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from typing import Any

# ---------------------------------------------------------------------------------------------
# Envelope and error catalogue (§3.1, §4.6)
# ---------------------------------------------------------------------------------------------


class Code(IntEnum):
    """OpenAPI error codes the simulator can return. [C] unless noted."""

    SUCCESS = 0
    RATE_LIMITED = -32
    ATTACHMENT_EXPIRED = -100
    SEND_FAILED = -200
    INVALID_PARAM = -201
    OA_DISABLED = -204
    OA_NOT_EXIST = -205
    API_NOT_SUPPORTED = -209
    PARAM_LIMIT = -210
    OUT_OF_QUOTA = -211
    API_NOT_REGISTERED = -212
    NOT_FOLLOWER = -213
    ARTICLE_PROCESSING = -214
    TOKEN_INVALID = -216
    USER_BLOCKED = -217
    OUT_OF_QUOTA_RECEIVE = -218
    APP_REMOVED = -219
    TOKEN_EXPIRED = -220
    OA_NOT_VERIFIED = -221
    OA_NOT_AUTHORIZED = -223
    PACKAGE_REQUIRED = -224
    USER_INACTIVE = -227
    NO_RECENT_INTERACTION = -230
    INTERACTION_EXPIRED = -232
    MESSAGE_TYPE_INVALID = -233
    NIGHT_TIME = -234
    OA_TYPE_UNSUPPORTED = -235
    MESSAGE_V2_SHUT_DOWN = -240
    APPSECRET_PROOF_INVALID = -242
    USER_RESTRICTED = -244
    PLATFORM_VIOLATION = -248


# Messages as Zalo writes them, typos included ("Offical", "registed"). [C] for the table in §4.6.
MESSAGES: dict[int, str] = {
    Code.SUCCESS: "Success",
    Code.RATE_LIMITED: "Your application reached limit call api",
    Code.ATTACHMENT_EXPIRED: "attachment_id was expired",
    Code.SEND_FAILED: "Send message failed",
    Code.INVALID_PARAM: "param is invalid",
    Code.OA_DISABLED: "Offical Account is disable",
    Code.OA_NOT_EXIST: "Offical Account is not exist",
    Code.API_NOT_SUPPORTED: "Not supported this api",
    Code.PARAM_LIMIT: "Parameter exceeds allowable limit",
    Code.OUT_OF_QUOTA: "Out of quota",
    Code.API_NOT_REGISTERED: "App has not registed this api",
    Code.NOT_FOLLOWER: "User has not followed OA",
    Code.ARTICLE_PROCESSING: "Article is being processed",
    Code.TOKEN_INVALID: "Access token is invalid",
    Code.USER_BLOCKED: "User has blocked invitation from OA",
    Code.OUT_OF_QUOTA_RECEIVE: "Out of quota receive",
    Code.APP_REMOVED: "App is removed or disabled",
    Code.TOKEN_EXPIRED: "access_token is expired or removed",
    Code.OA_NOT_VERIFIED: "The OA needs to be verified",
    Code.OA_NOT_AUTHORIZED: "Official Account has not authorized this API",
    Code.PACKAGE_REQUIRED: "The OA needs to upgrade OA Tier Package",
    Code.USER_INACTIVE: "User is banned or has been inactive for more than 45 days",
    Code.NO_RECENT_INTERACTION: "User has not interacted with the OA in the past 7 days",
    Code.INTERACTION_EXPIRED: "User has not interacted with the OA, or the last interaction has expired",
    Code.MESSAGE_TYPE_INVALID: "message type is invalid or not support",
    Code.NIGHT_TIME: "This message cannot be sent at night (10:00PM - 6:00AM)",
    Code.OA_TYPE_UNSUPPORTED: "This API does not support this type of OA",
    Code.MESSAGE_V2_SHUT_DOWN: "MessageV2 API has been shut down, please switch to MessageV3",
    Code.APPSECRET_PROOF_INVALID: "Invalid appsecret_proof provided in the API argument",
    Code.USER_RESTRICTED: "User has restricted this message type from your OA",
    Code.PLATFORM_VIOLATION: "Violates our platform standards",
}

# [U] Zalo's answer to a path it does not serve: HTTP 404 (§3.1: "You are accessing an empty or
# invalid API"); the body shape is not documented, we send the message as JSON.
UNKNOWN_PATH_MESSAGE = "You are accessing an empty or invalid API"

# [U] Only the text and image upload messages are quoted verbatim; other -201 messages follow the
# "<field> is invalid" pattern (the fact sheet shows it with a trailing "!" once; we leave it out).
UPLOAD_IMAGE_INVALID_MESSAGE = "file is invalid. We only support png and jpeg"
COVER_INVALID_MESSAGE = "cover value is invalid"


def message_for(code: int) -> str:
    """Zalo's message for a code; a generic one for codes outside the catalogue."""
    return MESSAGES.get(code, "Unknown error")


class ZaloApiError(Exception):
    """An OpenAPI failure: answered as HTTP 200 with ``{"error": code, "message": ...}`` (§3.1)."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = int(code)
        self.message = message if message is not None else message_for(code)
        super().__init__(f"{self.code}: {self.message}")


def invalid(field_name: str) -> ZaloApiError:
    """-201 "<field> is invalid" (§4.6)."""
    return ZaloApiError(Code.INVALID_PARAM, f"{field_name} is invalid")


def success_body(data: Any = None) -> dict[str, Any]:
    """The success envelope; ``data`` is left out when an endpoint returns none."""
    body: dict[str, Any] = {"error": 0, "message": "Success"}
    if data is not None:
        body["data"] = data
    return body


def error_body(code: int, message: str | None = None) -> dict[str, Any]:
    """The error envelope: no ``data`` (§3.1)."""
    return {"error": int(code), "message": message if message is not None else message_for(code)}


# ---------------------------------------------------------------------------------------------
# IDs (§1.2): decimal strings, often above 2**53. The simulator keeps them as int64.
# ---------------------------------------------------------------------------------------------

_ZALO_ID = re.compile(r"[1-9][0-9]{0,18}")
INT64_MAX = 2**63 - 1


def is_zalo_id(value: Any) -> bool:
    """A canonical decimal id (no sign, no leading zero) that fits in int64. [U] the int64 bound."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        value = str(value)
    return isinstance(value, str) and _ZALO_ID.fullmatch(value) is not None and int(value) <= INT64_MAX


def parse_user_id(value: Any) -> str:
    """``user_id`` may be sent as a string or a bare number (§6.3); -201 when it is not an id."""
    if not is_zalo_id(value):
        raise invalid("user_id")
    return str(value)


# ---------------------------------------------------------------------------------------------
# Interaction windows (§4.1, §4.2)
# ---------------------------------------------------------------------------------------------

FREE_WINDOW_SECONDS = 48 * 3600  # [C] free CS replies within 48 h of the last interaction
REACHABLE_WINDOW_SECONDS = 7 * 24 * 3600  # [C] CS sends need an interaction within 7 days


class QuotaType(StrEnum):
    REPLY = "reply"  # [C] free 48 h window
    SUB_QUOTA = "sub_quota"  # [C] billed to the package allowance (48 h – 7 d)


def cs_quota_type(last_interaction: float | None, now: float) -> QuotaType:
    """Which quota a CS message uses, or -230 when the window is closed (never, or > 7 days)."""
    if last_interaction is None:
        raise ZaloApiError(Code.NO_RECENT_INTERACTION)
    age = now - last_interaction
    if age <= FREE_WINDOW_SECONDS:
        return QuotaType.REPLY
    if age <= REACHABLE_WINDOW_SECONDS:
        return QuotaType.SUB_QUOTA
    raise ZaloApiError(Code.NO_RECENT_INTERACTION)


def cs_quota(quota_type: QuotaType, oa_id: str) -> dict[str, str]:
    """The ``quota`` object of a CS send response (§3.2). Numbers are strings. [U] ``remain``/``total``
    are always "8" since 2026-01-01 and vanish after 2026-03-01; we keep sending them; billed sends
    also name the OA as quota owner."""
    quota = {"quota_type": str(quota_type), "remain": "8", "total": "8"}
    if quota_type is QuotaType.SUB_QUOTA:
        quota |= {"owner_type": "OA", "owner_id": oa_id}
    return quota


# [U] Which user actions reopen the window (§4.2 lists disagree): every user_send_* (a button tap
# arrives as user_send_text, §1.6), following, and submitting the info form. Unfollowing does not.
INTERACTION_EVENTS = frozenset(
    {
        "user_send_text",
        "user_send_image",
        "user_send_link",
        "user_send_audio",
        "user_send_video",
        "user_send_sticker",
        "user_send_gif",
        "user_send_location",
        "user_send_file",
        "user_send_business_card",
        "user_submit_info",
        "follow",
    }
)


def counts_as_interaction(event_name: str) -> bool:
    return event_name in INTERACTION_EVENTS


# Dates shown to OAs are Vietnam local time (UTC+7, no DST). [U] the timezone of
# user_last_interaction_date and of the getlist periods.
VN_TZ = timezone(timedelta(hours=7))


def format_interaction_date(epoch_seconds: float) -> str:
    """``user_last_interaction_date`` is ``dd/MM/yyyy`` (§6.2). [C] format."""
    return datetime.fromtimestamp(epoch_seconds, VN_TZ).strftime("%d/%m/%Y")


# ---------------------------------------------------------------------------------------------
# CS message bodies (§3.2)
# ---------------------------------------------------------------------------------------------

TEXT_MAX_CHARS = 2000  # [C]; [U] whether Zalo counts code points or UTF-16 units (we count code points)
BUTTONS_MAX = 5  # [U] PHP-SDK
BUTTON_TITLE_MAX = 100  # [U] DAOPK
QUERY_PAYLOAD_MAX = 1000  # [U] redai guide
REQUEST_INFO_ELEMENTS_MAX = 1  # [U]

BUTTON_TYPES = frozenset({"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone", "oa.open.sms"})
QUERY_BUTTON_TYPES = frozenset({"oa.query.show", "oa.query.hide"})


class CsKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    BUTTONS = "buttons"
    REQUEST_USER_INFO = "request_user_info"


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    type: str
    payload: Any

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "type": self.type, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class CsMessage:
    """A validated CS message."""

    kind: CsKind
    text: str | None = None
    buttons: tuple[Button, ...] = ()
    image_url: str | None = None
    attachment_id: str | None = None
    elements: tuple[dict[str, Any], ...] = ()
    quote_message_id: str | None = None


def _is_http_url(value: Any, *, https_only: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    return value.startswith("https://") or (not https_only and value.startswith("http://"))


def _text(value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX_CHARS:
        raise invalid("text")
    return value


def _button(raw: Any) -> Button:
    if not isinstance(raw, dict):
        raise invalid("buttons")
    title, kind, payload = raw.get("title"), raw.get("type"), raw.get("payload")
    if not isinstance(title, str) or not title.strip() or len(title) > BUTTON_TITLE_MAX:
        raise invalid("title")
    if kind not in BUTTON_TYPES:
        raise invalid("type")
    if kind in QUERY_BUTTON_TYPES:
        if not isinstance(payload, str) or not payload or len(payload) > QUERY_PAYLOAD_MAX:
            raise invalid("payload")
    elif kind == "oa.open.url":
        if not isinstance(payload, dict) or not _is_http_url(payload.get("url")):
            raise invalid("url")
    else:  # oa.open.phone, oa.open.sms
        phone = payload.get("phone_code") if isinstance(payload, dict) else None
        if not isinstance(phone, str) or not phone.strip():
            raise invalid("phone_code")
        if kind == "oa.open.sms" and not isinstance(payload.get("content"), str):
            raise invalid("content")
    return Button(title=title, type=kind, payload=payload)


def _single_element(payload: dict[str, Any], limit: int) -> dict[str, Any]:
    elements = payload.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= limit:
        raise invalid("elements")
    if not isinstance(elements[0], dict):
        raise invalid("elements")
    return elements[0]


def parse_cs_message(message: Any) -> CsMessage:
    """Validate ``message`` of ``POST /v3.0/oa/message/cs``; the shapes the simulator supports are text,
    image (url or attachment_id), text + buttons, and request_user_info. [U] list/file/gif templates
    are real but not simulated: they answer -201 here."""
    if not isinstance(message, dict):
        raise invalid("message")
    quote = message.get("quote_message_id")
    quote_message_id = quote if isinstance(quote, str) and quote else None
    attachment = message.get("attachment")
    if attachment is None:
        return CsMessage(
            kind=CsKind.TEXT, text=_text(message.get("text"), required=True), quote_message_id=quote_message_id
        )
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        raise invalid("attachment")
    payload = attachment.get("payload")
    if not isinstance(payload, dict):
        raise invalid("payload")
    template_type = payload.get("template_type")
    if template_type == "media":
        element = _single_element(payload, 1)
        if element.get("media_type") != "image":
            raise invalid("media_type")
        url, attachment_id = element.get("url"), element.get("attachment_id")
        if (url is None) == (attachment_id is None):  # exactly one of the two (§3.2)
            raise invalid("attachment_id")
        if url is not None and not _is_http_url(url):
            raise invalid("url")
        if attachment_id is not None and (not isinstance(attachment_id, str) or not attachment_id):
            raise invalid("attachment_id")
        return CsMessage(
            kind=CsKind.IMAGE,
            text=_text(message.get("text"), required=False),
            image_url=url,
            attachment_id=attachment_id,
            quote_message_id=quote_message_id,
        )
    if template_type == "request_user_info":
        element = _single_element(payload, REQUEST_INFO_ELEMENTS_MAX)
        title, subtitle, image_url = element.get("title"), element.get("subtitle"), element.get("image_url")
        if not isinstance(title, str) or not title.strip() or len(title) > BUTTON_TITLE_MAX:
            raise invalid("title")
        if not isinstance(subtitle, str):
            raise invalid("subtitle")
        if not _is_http_url(image_url):
            raise invalid("image_url")
        return CsMessage(
            kind=CsKind.REQUEST_USER_INFO,
            elements=({"title": title, "subtitle": subtitle, "image_url": image_url},),
        )
    if template_type is None and "buttons" in payload:
        raw_buttons = payload["buttons"]
        if not isinstance(raw_buttons, list) or not 1 <= len(raw_buttons) <= BUTTONS_MAX:
            raise invalid("buttons")
        return CsMessage(
            kind=CsKind.BUTTONS,
            text=_text(message.get("text"), required=True),
            buttons=tuple(_button(raw) for raw in raw_buttons),
            quote_message_id=quote_message_id,
        )
    raise invalid("template_type")


# ---------------------------------------------------------------------------------------------
# Uploads (§6.4)
# ---------------------------------------------------------------------------------------------

UPLOAD_IMAGE_MAX_BYTES = 1024 * 1024  # [C] "1 MB"; [U] whether that is 10**6 or 2**20 bytes


def sniff_image(data: bytes) -> str | None:
    """'image/png' or 'image/jpeg' by magic bytes; Zalo accepts nothing else on /upload/image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def check_upload_image(data: bytes) -> str:
    """The content type of an acceptable upload (empty: no ``file`` field), else -201 with Zalo's
    verbatim message."""
    content_type = sniff_image(data)
    if content_type is None or len(data) > UPLOAD_IMAGE_MAX_BYTES:
        raise ZaloApiError(Code.INVALID_PARAM, UPLOAD_IMAGE_INVALID_MESSAGE)
    return content_type


# ---------------------------------------------------------------------------------------------
# Followers (§6.2)
# ---------------------------------------------------------------------------------------------

GETLIST_COUNT_MAX = 50  # [C]
GETLIST_OFFSET_MAX = 9951  # [C]
_PERIOD_RANGE = re.compile(r"(\d{4})_(\d{2})_(\d{2}):(\d{4})_(\d{2})_(\d{2})")


@dataclass(frozen=True, slots=True)
class GetlistQuery:
    offset: int
    count: int
    tag_name: str | None = None
    period: str | None = None
    is_follower: bool | None = None


def _int_param(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise invalid(name)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise invalid(name)


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """[start, end) in epoch seconds for a ``last_interaction_period``. [U] TODAY/YESTERDAY/range are
    Vietnam calendar days; L7D/L30D are the last 7×24 h / 30×24 h."""
    today = datetime.fromtimestamp(now, VN_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "TODAY":
        return today.timestamp(), now + 1
    if period == "YESTERDAY":
        return (today - timedelta(days=1)).timestamp(), today.timestamp()
    if period == "L7D":
        return now - 7 * 86400, now + 1
    if period == "L30D":
        return now - 30 * 86400, now + 1
    match = _PERIOD_RANGE.fullmatch(period)
    if match is None:
        raise invalid("last_interaction_period")
    y1, m1, d1, y2, m2, d2 = (int(part) for part in match.groups())
    try:
        first, last = date(y1, m1, d1), date(y2, m2, d2)
    except ValueError as exc:
        raise invalid("last_interaction_period") from exc
    if last < first:
        raise invalid("last_interaction_period")
    start = datetime(first.year, first.month, first.day, tzinfo=VN_TZ)
    end = datetime(last.year, last.month, last.day, tzinfo=VN_TZ) + timedelta(days=1)
    return start.timestamp(), end.timestamp()


def parse_getlist(data: Any, now: float) -> GetlistQuery:
    """Validate the ``data`` of ``GET /v3.0/oa/user/getlist``."""
    if not isinstance(data, dict):
        raise invalid("data")
    offset = _int_param(data.get("offset", 0), "offset")
    if not 0 <= offset <= GETLIST_OFFSET_MAX:
        raise invalid("offset")
    count = _int_param(data.get("count"), "count")
    if not 1 <= count <= GETLIST_COUNT_MAX:
        raise invalid("count")
    tag_name = data.get("tag_name")
    if tag_name is not None and (not isinstance(tag_name, str) or not tag_name):
        raise invalid("tag_name")
    period = data.get("last_interaction_period")
    if period is not None:
        if not isinstance(period, str):
            raise invalid("last_interaction_period")
        period_bounds(period, now)  # validates
    is_follower = data.get("is_follower")
    if isinstance(is_follower, str) and is_follower in ("true", "false"):
        is_follower = is_follower == "true"
    if is_follower is not None and not isinstance(is_follower, bool):
        raise invalid("is_follower")
    return GetlistQuery(offset=offset, count=count, tag_name=tag_name, period=period, is_follower=is_follower)


def getlist_data(total: int, query: GetlistQuery, user_ids: list[str]) -> dict[str, Any]:
    """[U] ``count`` echoes the requested count, as in the official sample (total 6, count 15);
    read ``len(users)`` for the page size."""
    return {
        "total": total,
        "count": query.count,
        "offset": query.offset,
        "users": [{"user_id": user_id} for user_id in user_ids],
    }


# ---------------------------------------------------------------------------------------------
# Tags (§6.3)
# ---------------------------------------------------------------------------------------------


def parse_tag_name(body: Any) -> str:
    name = body.get("tag_name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise invalid("tag_name")
    return name


# ---------------------------------------------------------------------------------------------
# Articles and broadcast (§6.5)
# ---------------------------------------------------------------------------------------------

ARTICLE_TITLE_MAX_EXCLUSIVE = 150  # [U] "≤ 150", but exactly 150 was rejected live: stay under
ARTICLE_DESCRIPTION_MAX_EXCLUSIVE = 300  # [U] same reading
ARTICLE_BODY_TYPES = frozenset({"text", "image", "video"})


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    title: str
    description: str
    author: str | None
    cover_url: str
    body: list[dict[str, Any]]
    status: str
    comment: str


def parse_article(body: Any) -> ArticleDraft:
    """Validate ``POST /v2.0/article/create``. [U] only ``type: normal`` is simulated; ``status``
    defaults to ``hide``; a cover with an https ``photo_url`` is required."""
    if not isinstance(body, dict):
        raise invalid("body")
    if body.get("type", "normal") != "normal":
        raise invalid("type")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) >= ARTICLE_TITLE_MAX_EXCLUSIVE:
        raise invalid("title")
    description = body.get("description")
    if not isinstance(description, str) or len(description) >= ARTICLE_DESCRIPTION_MAX_EXCLUSIVE:
        raise invalid("description")
    author = body.get("author")
    if author is not None and not isinstance(author, str):
        raise invalid("author")
    cover = body.get("cover")
    if (
        not isinstance(cover, dict)
        or cover.get("cover_type", "photo") != "photo"
        or not _is_http_url(cover.get("photo_url"), https_only=True)
    ):
        raise ZaloApiError(Code.INVALID_PARAM, COVER_INVALID_MESSAGE)
    content = body.get("body")
    if not isinstance(content, list) or not content:
        raise invalid("body")
    for item in content:
        if not isinstance(item, dict) or item.get("type") not in ARTICLE_BODY_TYPES:
            raise invalid("body")
    status = body.get("status", "hide")
    comment = body.get("comment", "show")
    if status not in ("show", "hide"):
        raise invalid("status")
    if comment not in ("show", "hide"):
        raise invalid("comment")
    return ArticleDraft(
        title=title,
        description=description,
        author=author,
        cover_url=cover["photo_url"],
        body=content,
        status=status,
        comment=comment,
    )


@dataclass(frozen=True, slots=True)
class BroadcastRequest:
    target: dict[str, Any]
    article_ids: tuple[str, ...] = field(default_factory=tuple)


def parse_v2_message(body: Any) -> BroadcastRequest:
    """``POST /v2.0/oa/message``: only the article broadcast (``recipient.target``) is still alive
    (§3.1, §3.4). Anything else is -240. [U] anonymous and reaction sends also answer -240 here
    (not simulated). [U] target codes are recorded, not applied: every follower receives."""
    recipient = body.get("recipient") if isinstance(body, dict) else None
    if not isinstance(recipient, dict) or "target" not in recipient:
        raise ZaloApiError(Code.MESSAGE_V2_SHUT_DOWN)
    target = recipient["target"]
    if not isinstance(target, dict):
        raise invalid("target")
    message = body.get("message")
    attachment = message.get("attachment") if isinstance(message, dict) else None
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if not isinstance(payload, dict) or attachment.get("type") != "template":
        raise invalid("attachment")
    if payload.get("template_type") != "media":
        raise invalid("template_type")
    elements = payload.get("elements")
    if not isinstance(elements, list) or not elements:
        raise invalid("elements")
    article_ids: list[str] = []
    for element in elements:
        if not isinstance(element, dict) or element.get("media_type") != "article":
            raise invalid("media_type")
        article_id = element.get("attachment_id")
        if not isinstance(article_id, str) or not article_id:
            raise invalid("attachment_id")
        article_ids.append(article_id)
    return BroadcastRequest(target=target, article_ids=tuple(article_ids))


# ---------------------------------------------------------------------------------------------
# Rate limit (§4.4)
# ---------------------------------------------------------------------------------------------

DEFAULT_RATE_LIMIT = 4000  # [C] per app per minute, for all its OAs together
DEFAULT_RATE_WINDOW_SECONDS = 60.0
RATE_LIMIT_HEADER = "X-RateLimit-Limit"  # [C]
RATE_REMAIN_HEADER = "X-RateLimit-Remain"  # [C]


def rate_limit_headers(limit: int, remain: int) -> dict[str, str]:
    return {RATE_LIMIT_HEADER: str(limit), RATE_REMAIN_HEADER: str(max(remain, 0))}


# ---------------------------------------------------------------------------------------------
# OAuth v4 (§5)
# ---------------------------------------------------------------------------------------------

ACCESS_TOKEN_TTL_SECONDS = 90000  # [C] 25 h
REFRESH_TOKEN_TTL_SECONDS = 90 * 86400  # [C] "3 months"
AUTH_CODE_TTL_SECONDS = 600  # [C] 10 minutes, single use
SECRET_KEY_HEADER = "secret_key"  # noqa: S105 - a header name: [C] the App Secret travels in it


class OAuthCode(IntEnum):
    """[U] Zalo documents no code for a dead refresh token (§4.6, §9.10). These come from
    community code logging live answers (-14002 app id, -14004 secret key, -14005 code,
    -14018 grant type) and one client mock (-14014 refresh token). Treat them as best guesses."""

    INVALID_APP_ID = -14002
    INVALID_SECRET_KEY = -14004
    INVALID_CODE = -14005
    INVALID_REFRESH_TOKEN = -14014
    INVALID_GRANT_TYPE = -14018


OAUTH_ERROR_NAMES: dict[int, str] = {
    OAuthCode.INVALID_APP_ID: "Invalid appId",
    OAuthCode.INVALID_SECRET_KEY: "Invalid secret key",
    OAuthCode.INVALID_CODE: "Invalid code",
    OAuthCode.INVALID_REFRESH_TOKEN: "Invalid refresh token.",
    OAuthCode.INVALID_GRANT_TYPE: "Invalid grant type",
}


class OAuthError(Exception):
    """A failure of /v4/oa/access_token; HTTP 200 with an ``error`` body (no envelope)."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = int(code)
        self.reason = reason
        super().__init__(f"{self.code}: {OAUTH_ERROR_NAMES.get(code, 'OAuth error')}")


def oauth_error_body(error: OAuthError) -> dict[str, Any]:
    """[U] shape ``{error, error_name, error_reason, error_description, ref_doc}`` (§4.6)."""
    name = OAUTH_ERROR_NAMES.get(error.code, "OAuth error")
    return {
        "error": error.code,
        "error_name": name,
        "error_reason": error.reason,
        "error_description": name,
        "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
    }


def pkce_challenge(code_verifier: str) -> str:
    """code_challenge = Base64URL(SHA256(verifier)) without padding (§5). [C] scheme."""
    digest = hashlib.sha256(code_verifier.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_response(access_token: str, refresh_token: str, ttl_seconds: int) -> dict[str, str]:
    """The success answer: no envelope, ``expires_in`` as a string of seconds (§5). [C]"""
    return {"access_token": access_token, "refresh_token": refresh_token, "expires_in": str(ttl_seconds)}


# ---------------------------------------------------------------------------------------------
# Webhook signing and delivery (§1, §2)
# ---------------------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-ZEvent-Signature"  # [C]
RETRY_HEADER = "num_retry"  # [C]
RETRY_LADDER_SECONDS = (30.0, 300.0, 900.0, 1800.0, 3600.0)  # [C] then the app is unsubscribed
ACK_TIMEOUT_SECONDS = 2.0  # [C] answer 200 within 2 s; [U] that slow/non-200 retries like a failure


def encode_event(event: dict[str, Any]) -> bytes:
    """The raw body Zalo posts: compact JSON, UTF-8, non-ASCII left as is. [U] exact formatting."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def webhook_mac(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """sha256hex(appId + rawBody + timestamp + OAsecretKey): plain SHA-256, not HMAC (§2.1). [C]"""
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(raw_body)
    digest.update(timestamp.encode())
    digest.update(oa_secret_key.encode())
    return digest.hexdigest()


def signature_header_value(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The header value: ``mac=<hex>`` (§2.1). [C]"""
    return "mac=" + webhook_mac(app_id, raw_body, timestamp, oa_secret_key)


# [U] §1.4: follow ``source`` values.
FOLLOW_SOURCES = frozenset({"oa_profile", "message_invite", "social_plugin"})


def epoch_ms_string(epoch_seconds: float) -> str:
    """Event timestamps are epoch milliseconds as a string (§1.2). [C]"""
    return str(int(epoch_seconds * 1000))


def utc_iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")
