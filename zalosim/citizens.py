"""What a citizen does in the Zalo app, turned into a webhook event plus the state change it causes.

Pure: ids come from the state's id source, time is passed in; delivery is someone else's job.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from zalosim import events, rules
from zalosim.control_models import (
    CitizenBody,
    FileBody,
    FollowBody,
    ImageBody,
    LocationBody,
    StickerBody,
    SubmitInfoBody,
    TextBody,
)
from zalosim.ids import user_id_by_app
from zalosim.media import PHOTO_MEDIA_ID, STICKER_MEDIA_ID, media_url
from zalosim.registry import OaEntry
from zalosim.state import Media, SimState

_SEED_CHUNK = 50_000


class CitizenInputError(ValueError):
    """The control request cannot become a Zalo event (bad media bytes, wrong action)."""


@dataclass(frozen=True, slots=True)
class CitizenEvent:
    event: dict[str, Any]
    msg_id: str | None


def _decode(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CitizenInputError(f"{what} is not valid base64") from exc


def _build(
    state: SimState, ctx: events.EventContext, action: str, body: CitizenBody, media_base: str
) -> tuple[dict[str, Any], str | None]:
    msg_id = state.ids.message_id()
    if isinstance(body, TextBody):
        return events.user_send_text(ctx, msg_id, body.text, body.quote_msg_id), msg_id
    if isinstance(body, ImageBody):
        if body.url and body.image_base64:
            raise CitizenInputError("give url or image_base64, not both")
        if body.image_base64:
            data = _decode(body.image_base64, "image_base64")
            content_type = rules.sniff_image(data)
            if content_type is None:
                raise CitizenInputError("image_base64 must be a PNG or JPEG image")
            url = media_url(media_base, state.add_media(Media(content_type, data)))
        else:
            url = body.url or media_url(media_base, PHOTO_MEDIA_ID)
        return events.user_send_image(ctx, msg_id, url, url, body.text), msg_id
    if isinstance(body, LocationBody):
        return events.user_send_location(ctx, msg_id, body.latitude, body.longitude, body.name), msg_id
    if isinstance(body, StickerBody):
        sticker_id = body.sticker_id or state.ids.short(8)
        return events.user_send_sticker(ctx, msg_id, sticker_id, media_url(media_base, STICKER_MEDIA_ID)), msg_id
    if isinstance(body, FileBody):
        data = _decode(body.content_base64, "content_base64") if body.content_base64 else body.name.encode()
        url = body.url or media_url(media_base, state.add_media(Media("application/octet-stream", data, body.name)))
        extension = body.name.rsplit(".", 1)[-1].lower() if "." in body.name else ""
        checksum = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return events.user_send_file(ctx, msg_id, url, body.name, len(data), checksum, extension), msg_id
    if isinstance(body, FollowBody):
        return events.follow_event(ctx, action, body.source), None
    if isinstance(body, SubmitInfoBody):
        info = events.submitted_info(
            body.name, body.phone, body.address, body.ward, body.city, body.user_dob, body.gender
        )
        return events.user_submit_info(ctx, info), None
    raise CitizenInputError(f"unsupported action {action!r}")


def citizen_event(
    state: SimState, oa: OaEntry, user_id: str, action: str, body: CitizenBody, now: float, media_base: str
) -> CitizenEvent:
    """Build the event for a citizen action and apply it: last interaction, follow state, profile."""
    app_id = state.registry.app_id
    ctx = events.EventContext(
        app_id=app_id,
        oa_id=oa.oa_id,
        user_id=user_id,
        user_id_by_app=user_id_by_app(app_id, user_id),
        timestamp=rules.epoch_ms_string(now),
    )
    event, msg_id = _build(state, ctx, action, body, media_base)
    users = state.users[oa.key]
    index = users.ensure(user_id)
    if rules.counts_as_interaction(event["event_name"]):
        users.set_last_interaction(index, now)
    if action in ("follow", "unfollow"):
        users.set_follower(index, action == "follow")
    if body.display_name:
        users.extras(index).display_name = body.display_name
    if isinstance(body, SubmitInfoBody):
        address = ", ".join(part for part in (body.address, body.ward) if part)
        users.extras(index).shared_info = {
            "name": body.name,
            "phone": body.phone,
            "address": address,
            "city": body.city,
            "district": "",
        }
    state.stats[f"events.{event['event_name']}"] += 1
    return CitizenEvent(event=event, msg_id=msg_id)


def seed_followers(
    state: SimState, oa: OaEntry, count: int, active_share: float, tag_name: str | None, now: float
) -> tuple[int, list[str]]:
    """Add ``count`` synthetic followers: ``active_share`` of them interacted within the last 7 days
    (uniformly), the others 8–180 days ago. Returns (added, a few sample ids)."""
    ids, users = state.ids, state.users[oa.key]
    reach, day = rules.REACHABLE_WINDOW_SECONDS, 86400.0

    def last_interaction() -> float:
        if ids.random() < active_share:
            return now - ids.random() * reach
        return now - reach - day - ids.random() * 172 * day

    first = len(users)
    sample: list[str] = []
    for chunk_start in range(0, count, _SEED_CHUNK):  # chunks keep the peak memory of temporaries low
        size = min(_SEED_CHUNK, count - chunk_start)
        user_ids = [ids.user_id() for _ in range(size)]
        users.add_many(user_ids, [last_interaction() for _ in range(size)], follower=True)
        if not sample:
            sample = [str(user_id) for user_id in user_ids[:10]]
    if tag_name:
        users.tag_range(range(first, len(users)), tag_name)
    return len(users) - first, sample
