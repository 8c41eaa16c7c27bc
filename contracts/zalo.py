"""zalo.events.v1: verified, normalised Zalo webhook events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope


class Attachment(BaseModel):
    """One attachment of a user message (image, file, sticker, link, audio, video, gif)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str = Field(description="Zalo attachment type.", examples=["image"])
    url: str | None = Field(
        default=None, description="Media URL on Zalo's CDN.", examples=["https://f6.photo.talk.zdn.vn/1.jpg"]
    )
    thumbnail: str | None = Field(default=None, description="Thumbnail URL, when Zalo gives one.")
    name: str | None = Field(default=None, description="File name (files only).")
    size: int | None = Field(default=None, description="Size in bytes, when Zalo gives it (files only).")


class Location(BaseModel):
    """A location the citizen shared."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    latitude: float = Field(ge=-90, le=90, description="WGS84 latitude.", examples=[10.7923119])
    longitude: float = Field(ge=-180, le=180, description="WGS84 longitude.", examples=[106.7820651])
    name: str | None = Field(default=None, description="Place name Zalo sent as the message text, if any.")


class ZaloEvent(Envelope):
    """One Zalo webhook event after signature verification and normalisation."""

    app_id: str = Field(description="Zalo app id that received the event.", examples=["4318000000000000000"])
    oa_id: str = Field(description="Zalo OA id the event belongs to.", examples=["4318000000000000001"])
    oa_key: str = Field(description="Short key of the OA in the registry.", examples=["tanphu"])
    user_id: str | None = Field(
        default=None,
        description="OA-scoped id of the citizen (sender of user_* events, recipient of oa_* echoes, follower).",
        examples=["246845883529197922"],
    )
    event_name: str = Field(
        description="Zalo's event_name, kept as is (unknown names too).", examples=["user_send_text"]
    )
    direction: Literal["inbound", "echo", "receipt", "management", "unknown"] = Field(
        description="inbound: the citizen did something; echo: the OA's own message; receipt: received/seen;"
        " management: follow/unfollow/tags; unknown: an event name this version does not know.",
    )
    zalo_timestamp_ms: int = Field(description="Zalo's `timestamp` (epoch milliseconds).", examples=[1751100041636])
    message_id: str | None = Field(default=None, description="Zalo msg_id, when the event has one.")
    text: str | None = Field(default=None, description="Message text, caption or button payload.")
    attachments: list[Attachment] = Field(default_factory=list, description="Attachments of the message.")
    location: Location | None = Field(default=None, description="Shared location (user_send_location).")
    submitted_info: dict[str, Any] | None = Field(
        default=None, description="`info` of user_submit_info, nested or flat, as Zalo sent it."
    )
    follow_source: str | None = Field(default=None, description="`source` of follow events.", examples=["oa_profile"])
    sync: bool = Field(
        default=False,
        description="True when produced by the follower sync command rather than a webhook.",
    )
    raw: dict[str, Any] = Field(description="The webhook body exactly as parsed (no re-serialisation for signing).")
