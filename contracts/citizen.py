"""citizen.intents.v1 and conversation.handoffs.v1."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope


class IntentEntities(BaseModel):
    """Entities recognised in the citizen's message."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ward: str | None = Field(default=None, description="Ward name with diacritics.", examples=["Sơn Kỳ"])
    unit: str | None = Field(default=None, description="OA key of a unit.", examples=["csgt"])
    case_code: str | None = Field(default=None, examples=["TP-26-000123"])
    subcases: list[str] = Field(default_factory=list, examples=[["motorbike"]])


class NewsPreference(BaseModel):
    """A change of the citizen's news preferences."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action: Literal["subscribe", "unsubscribe", "change_ward", "latest"]
    ward: str | None = None
    topics: list[str] = Field(default_factory=list)


class CitizenIntent(Envelope):
    """What a citizen asked (never the message text: that stays in the intent service)."""

    oa_id: str
    user_id: str
    intent: str = Field(examples=["procedure.temporary_residence"])
    confidence: float = Field(ge=0, le=1)
    entities: IntentEntities = Field(default_factory=IntentEntities)
    preference: NewsPreference | None = None


class HandoffEvent(Envelope):
    """The bot hands a citizen to officers, or gets the conversation back."""

    oa_id: str
    user_id: str
    change: Literal["requested", "released"]
    by: str = Field(description="'citizen', 'timeout' or the officer's id.")
    reason: str | None = None
