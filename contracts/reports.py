"""reports.submitted.v1, reports.status-requests.v1 and reports.lifecycle.v1."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope
from contracts.zalo import Location


class ReportAttachment(BaseModel):
    """A photo or file the citizen attached; downloaded by the reports service."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    media_type: Literal["image", "file", "video"] = "image"
    thumbnail: str | None = None


class ReportSubmitted(Envelope):
    """A completed report form, or an emergency raised by the conversation."""

    submission_id: str = Field(description="Idempotency key: one case per submission.")
    oa_id: str
    user_id: str = Field(description="Reporter's OA-scoped id; encrypted at rest when anonymous.")
    kind: Literal["crime", "public_order"]
    category: str = Field(default="other", examples=["theft"])
    description: str = Field(min_length=1, max_length=5000)
    occurred_at_text: str | None = Field(default=None, description="When, as the citizen said it.")
    place_text: str | None = None
    ward: str | None = None
    location: Location | None = None
    attachments: list[ReportAttachment] = Field(default_factory=list, max_length=20)
    anonymous: bool = False
    urgent: bool = False
    source: Literal["form", "emergency"] = "form"


class StatusRequested(Envelope):
    """A citizen asks about case `case_code` (or all of theirs when absent)."""

    oa_id: str
    user_id: str
    case_code: str | None = None


CaseStatus = Literal["received", "acknowledged", "investigating", "resolved", "rejected", "transferred"]


class CaseLifecycle(Envelope):
    """A change to a case. Carries no reporter identity."""

    case_id: str
    case_code: str
    oa_id: str
    change: Literal["created", "assigned", "status_changed", "transferred", "note_added", "closed"]
    status: CaseStatus
    unit: str
    ward: str | None = None
    kind: Literal["crime", "public_order"]
    category: str
    priority: Literal["urgent", "normal"]
    actor: str = Field(description="Officer id or 'system'.")
    version: int = Field(ge=1)
