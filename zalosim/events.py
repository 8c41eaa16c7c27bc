"""Builders of webhook event payloads, shaped like the samples in the fact sheet (§1.2–§1.5).

Pure: the caller supplies ids and the timestamp. IDs are decimal strings; msg_ids are hex strings
like every captured sample; ``timestamp`` is epoch milliseconds as a string.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who and when: the parts every event of one (OA, user) pair shares."""

    app_id: str
    oa_id: str
    user_id: str
    user_id_by_app: str
    timestamp: str


def _user_message(ctx: EventContext, event_name: str, message: dict[str, Any]) -> dict[str, Any]:
    """User → OA: sender is the user, recipient the OA (§1.2)."""
    return {
        "app_id": ctx.app_id,
        "sender": {"id": ctx.user_id},
        "user_id_by_app": ctx.user_id_by_app,
        "recipient": {"id": ctx.oa_id},
        "event_name": event_name,
        "message": message,
        "timestamp": ctx.timestamp,
    }


def _oa_message(ctx: EventContext, event_name: str, message: dict[str, Any]) -> dict[str, Any]:
    """OA → user echo: sender is the OA, recipient the user (§1.4)."""
    return {
        "app_id": ctx.app_id,
        "sender": {"id": ctx.oa_id},
        "user_id_by_app": ctx.user_id_by_app,
        "recipient": {"id": ctx.user_id},
        "event_name": event_name,
        "message": message,
        "timestamp": ctx.timestamp,
    }


def user_send_text(ctx: EventContext, msg_id: str, text: str, quote_msg_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"text": text, "msg_id": msg_id}
    if quote_msg_id:
        message["quote_msg_id"] = quote_msg_id
    return _user_message(ctx, "user_send_text", message)


def user_send_image(
    ctx: EventContext, msg_id: str, url: str, thumbnail: str | None = None, caption: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "msg_id": msg_id,
        "attachments": [{"type": "image", "payload": {"thumbnail": thumbnail or url, "url": url}}],
    }
    if caption:
        message["text"] = caption
    return _user_message(ctx, "user_send_image", message)


def user_send_location(
    ctx: EventContext, msg_id: str, latitude: float | str, longitude: float | str, name: str | None = None
) -> dict[str, Any]:
    """Coordinates are strings, as in the live capture (§1.4); the place name rides in ``text``."""
    message: dict[str, Any] = {
        "msg_id": msg_id,
        "attachments": [
            {
                "type": "location",
                "payload": {"coordinates": {"latitude": str(latitude), "longitude": str(longitude)}},
            }
        ],
    }
    if name:
        message["text"] = name
    return _user_message(ctx, "user_send_location", message)


def user_send_sticker(ctx: EventContext, msg_id: str, sticker_id: str, url: str) -> dict[str, Any]:
    message = {"msg_id": msg_id, "attachments": [{"type": "sticker", "payload": {"id": sticker_id, "url": url}}]}
    return _user_message(ctx, "user_send_sticker", message)


def user_send_file(
    ctx: EventContext, msg_id: str, url: str, name: str, size: int, checksum: str, file_type: str
) -> dict[str, Any]:
    """``size`` is a string in real payloads (§1.5)."""
    payload = {"url": url, "size": str(size), "name": name, "checksum": checksum, "type": file_type}
    message = {"msg_id": msg_id, "attachments": [{"type": "file", "payload": payload}]}
    return _user_message(ctx, "user_send_file", message)


def follow_event(ctx: EventContext, event_name: str, source: str) -> dict[str, Any]:
    """``follow`` / ``unfollow``: no sender/recipient; ``oa_id``, ``follower.id``, ``source`` (§1.4)."""
    return {
        "oa_id": ctx.oa_id,
        "follower": {"id": ctx.user_id},
        "user_id_by_app": ctx.user_id_by_app,
        "event_name": event_name,
        "source": source,
        "app_id": ctx.app_id,
        "timestamp": ctx.timestamp,
    }


def user_submit_info(ctx: EventContext, info: dict[str, Any]) -> dict[str, Any]:
    """Nested ``info`` with ``full_address`` (§1.4); no msg_id. [U] older integrations saw a flat info."""
    return {
        "sender": {"id": ctx.user_id},
        "recipient": {"id": ctx.oa_id},
        "event_name": "user_submit_info",
        "app_id": ctx.app_id,
        "user_id_by_app": ctx.user_id_by_app,
        "timestamp": ctx.timestamp,
        "info": info,
    }


def submitted_info(
    name: str,
    phone: str,
    address: str = "",
    ward: str = "",
    city: str = "Thành phố Hồ Chí Minh",
    user_dob: str | None = None,
    gender: str | None = None,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "full_address": {"user_city": city, "user_ward": ward, "user_address": address},
    }
    if user_dob:
        info["user_dob"] = user_dob
    if gender:
        info["gender"] = gender
    return info


def oa_send_text(ctx: EventContext, msg_id: str, text: str) -> dict[str, Any]:
    return _oa_message(ctx, "oa_send_text", {"text": text, "msg_id": msg_id})


def oa_send_image(ctx: EventContext, msg_id: str, url: str, caption: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "msg_id": msg_id,
        "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}],
    }
    if caption:
        message["text"] = caption
    return _oa_message(ctx, "oa_send_image", message)


def oa_send_list(ctx: EventContext, msg_id: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    """[U] template sends (request_user_info) echo as ``oa_send_list`` with ``link`` items (§1.4)."""
    attachments = [
        {
            "type": "link",
            "payload": {
                "title": element.get("title", ""),
                "description": element.get("subtitle", ""),
                "thumbnail": element.get("image_url", ""),
                "url": "",
            },
        }
        for element in elements
    ]
    return _oa_message(ctx, "oa_send_list", {"msg_id": msg_id, "attachments": attachments})
