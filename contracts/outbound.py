"""zalo.outbound.v1 and zalo.delivery.v1: commands to Zalo and their outcomes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.envelope import Envelope


class Button(BaseModel):
    """A message button. `query` sends `payload` back as the citizen's text (oa.query.show)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str = Field(min_length=1, max_length=100, description="Button label.", examples=["Gọi 113"])
    kind: Literal["query", "phone", "url"] = Field(
        description="query: oa.query.show; phone: oa.open.phone; url: oa.open.url."
    )
    payload: str = Field(
        min_length=1, max_length=1000, description="Query text, phone number or https URL.", examples=["#thutuc"]
    )


class ListElement(BaseModel):
    """One element of a list template."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str = Field(min_length=1, max_length=100)
    subtitle: str | None = Field(default=None, max_length=500)
    image_url: str | None = None
    url: str | None = Field(default=None, description="Opened when the element is tapped.")


class Message(BaseModel):
    """What to send to one citizen. Exactly one of the shapes: text (+buttons), image, list, request_user_info."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str | None = Field(default=None, max_length=2000, description="Message text (Zalo caps at 2,000 chars).")
    buttons: list[Button] = Field(default_factory=list, max_length=5, description="Up to 5 buttons.")
    image_url: str | None = Field(default=None, description="Image to send by URL.")
    list_elements: list[ListElement] = Field(default_factory=list, max_length=5)
    request_user_info: bool = Field(default=False, description="Send Zalo's request_user_info card.")
    request_title: str | None = Field(default=None, max_length=100)
    request_subtitle: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _has_content(self) -> Message:
        if not (self.text or self.image_url or self.list_elements or self.request_user_info):
            raise ValueError("a message needs text, an image, list elements or request_user_info")
        return self


class ArticleBlock(BaseModel):
    """One block of an article body."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["text", "image"]
    content: str | None = None
    url: str | None = None
    caption: str | None = None


class Article(BaseModel):
    """An article to create on an OA and broadcast to its followers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str = Field(min_length=1, max_length=149, description="Zalo rejects 150 characters and more.")
    description: str = Field(min_length=1, max_length=299, description="Summary; Zalo caps at 300.")
    author: str = Field(min_length=1, max_length=100)
    cover_url: str = Field(pattern=r"^https://", description="Cover photo (required by Zalo).")
    body: list[ArticleBlock] = Field(min_length=1)


class BroadcastTarget(BaseModel):
    """Zalo's broadcast targeting (no ward targeting exists). Codes per zalo-oa-api.md §6.5."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    cities: list[int] = Field(default_factory=list, description="Province codes; 4 = Hồ Chí Minh City.", examples=[[4]])
    ages: list[int] = Field(default_factory=list)
    gender: int = 0
    locations: list[int] = Field(default_factory=list)
    platform: list[int] = Field(default_factory=list)


class OutboundCommand(Envelope):
    """A command for the gateway egress. `command_id` is the idempotency key; replays are not re-sent."""

    command_id: str = Field(min_length=1, max_length=200, description="Deterministic id derived from the cause.")
    oa_id: str = Field(description="OA that sends.")
    user_id: str | None = Field(default=None, description="Recipient (send, tag_user, untag_user).")
    action: Literal["send", "broadcast_article", "tag_user", "untag_user"] = "send"
    message_type: Literal["cs", "transaction", "promotion"] = Field(
        default="cs", description="Zalo message type; the system only uses customer-service (cs) today."
    )
    lane: Literal["conversation", "notice", "campaign"] = Field(
        default="conversation",
        description="Rate-limit lane: conversation replies go first, campaign fan-out gets what is left.",
    )
    message: Message | None = None
    article: Article | None = None
    target: BroadcastTarget | None = None
    tag_name: str | None = Field(default=None, max_length=100)
    not_after: str | None = Field(
        default=None, description="ISO time after which sending is pointless (e.g. the interaction window closes)."
    )
    context: dict[str, str] = Field(
        default_factory=dict, description="Opaque ids echoed on the delivery outcome (campaign_id, case_id …)."
    )

    @model_validator(mode="after")
    def _shape(self) -> OutboundCommand:
        if self.action == "send" and (self.message is None or not self.user_id):
            raise ValueError("send needs user_id and message")
        if self.action == "broadcast_article" and self.article is None:
            raise ValueError("broadcast_article needs article")
        if self.action in ("tag_user", "untag_user") and (not self.user_id or not self.tag_name):
            raise ValueError(f"{self.action} needs user_id and tag_name")
        return self


class DeliveryOutcome(Envelope):
    """The outcome of one outbound command."""

    command_id: str
    oa_id: str
    user_id: str | None = None
    action: Literal["send", "broadcast_article", "tag_user", "untag_user"]
    lane: Literal["conversation", "notice", "campaign"]
    status: Literal["sent", "failed", "skipped"] = Field(description="skipped: not attempted (e.g. not_after passed).")
    zalo_message_id: str | None = None
    article_id: str | None = None
    quota_type: str | None = Field(default=None, description="reply (free 48 h window) or a billed quota.")
    zalo_error: int | None = Field(default=None, description="Zalo error code when failed.", examples=[-230])
    zalo_message: str | None = None
    reason: Literal[
        "ok", "window_closed", "not_reachable", "invalid", "rate_limited", "token", "expired", "transient", "other"
    ] = "ok"
    retryable: bool = False
    attempts: int = 1
    context: dict[str, str] = Field(default_factory=dict)
