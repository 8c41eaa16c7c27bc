"""news.broadcasts.v1."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope


class ChannelProgress(BaseModel):
    """Progress of one delivery channel of a campaign."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    targeted: int = 0
    reachable: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0


class BroadcastLifecycle(Envelope):
    """A campaign changed state or made progress."""

    campaign_id: str
    change: Literal["created", "approved", "started", "progress", "paused", "resumed", "cancelled", "finished"]
    oa_ids: list[str] = Field(default_factory=list)
    article_broadcasts: ChannelProgress = Field(default_factory=ChannelProgress)
    direct_messages: ChannelProgress = Field(default_factory=ChannelProgress)
