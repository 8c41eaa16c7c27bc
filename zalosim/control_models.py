"""Request bodies of the control API (``/_sim/...``), validated with pydantic."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- citizen actions: POST /_sim/users/{oa_key}/{user_id}/{action} ---------------------------


class CitizenBody(_Body):
    display_name: str | None = Field(None, description="Name shown by /v3.0/oa/user/detail from now on.")


class TextBody(CitizenBody):
    text: str = Field(min_length=1, description="What the citizen types; a button tap is its payload.")
    quote_msg_id: str | None = Field(None, description="msg_id of the message the citizen replies to.")


class ImageBody(CitizenBody):
    url: str | None = Field(None, description="An image URL to send as is.")
    image_base64: str | None = Field(None, description="PNG or JPEG bytes; the simulator hosts them.")
    text: str | None = Field(None, description="Caption.")


class LocationBody(CitizenBody):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(None, description="Place name (carried in message.text).")


class StickerBody(CitizenBody):
    sticker_id: str | None = None


class FileBody(CitizenBody):
    name: str = "tai-lieu.pdf"
    content_base64: str | None = Field(None, description="File bytes; the simulator hosts them.")
    url: str | None = None


class FollowBody(CitizenBody):
    source: Literal["oa_profile", "message_invite", "social_plugin"] = "oa_profile"


class SubmitInfoBody(CitizenBody):
    name: str = Field(min_length=1)
    phone: str = Field(min_length=1)
    address: str = ""
    ward: str = ""
    city: str = "Thành phố Hồ Chí Minh"
    user_dob: str | None = None
    gender: str | None = None


class LastInteractionBody(_Body):
    seconds_ago: float | None = Field(ge=0, description="null: the citizen never interacted.")


CITIZEN_ACTIONS: dict[str, type[CitizenBody]] = {
    "text": TextBody,
    "image": ImageBody,
    "location": LocationBody,
    "sticker": StickerBody,
    "file": FileBody,
    "follow": FollowBody,
    "unfollow": FollowBody,
    "submit_info": SubmitInfoBody,
}


# -- other control bodies ---------------------------------------------------------------------


class SeedBody(_Body):
    oa_key: str
    count: int = Field(gt=0, le=2_000_000)
    active_share: float = Field(
        0.3, ge=0, le=1, description="Share that interacted within the last 7 days (CS-reachable)."
    )
    tag_name: str | None = Field(None, description="Tag every seeded follower with this tag.")


class ClockAdvanceBody(_Body):
    seconds: float = Field(ge=0)


class ResetBody(_Body):
    keep_tokens: bool = False


class WebhookBody(_Body):
    url: str | None = None
    subscribed: bool | None = None


class AuthCodeBody(_Body):
    code_challenge: str | None = Field(None, description="S256 PKCE challenge the code is bound to.")


# -- faults: POST /_sim/faults ----------------------------------------------------------------


class _Scoped(_Body):
    path: str | None = Field(None, description="Only this path (a trailing * makes it a prefix).")
    count: int | None = Field(None, gt=0, description="Only the next N matching requests.")
    duration_seconds: float | None = Field(None, gt=0, description="Only for this long (simulator clock).")


class HttpErrorFault(_Scoped):
    kind: Literal["http_error"]
    status: int = Field(503, ge=500, le=599)


class HangFault(_Scoped):
    kind: Literal["hang"]
    seconds: float = Field(10.0, gt=0, description="How long each hit request sleeps before answering.")


class ZaloErrorFault(_Scoped):
    kind: Literal["zalo_error"]
    code: int = Field(lt=0)
    message: str | None = None


class LatencyFault(_Scoped):
    kind: Literal["latency"]
    seconds: float = Field(gt=0)


class ExpireTokenFault(_Body):
    kind: Literal["expire_token"]
    oa_key: str


class RateLimitFault(_Body):
    kind: Literal["rate_limit"]
    limit: int = Field(gt=0)
    window_seconds: float | None = Field(None, gt=0)


FaultSpec = Annotated[
    HttpErrorFault | HangFault | ZaloErrorFault | LatencyFault | ExpireTokenFault | RateLimitFault,
    Field(discriminator="kind"),
]
FAULT_SPEC: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)
