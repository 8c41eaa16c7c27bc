"""Request and response bodies of the officer API (one source for validation and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_IN = ConfigDict(extra="forbid", frozen=True)
_OUT = ConfigDict(extra="forbid")

StatusName = Literal["received", "acknowledged", "investigating", "resolved", "rejected", "transferred"]
Version = Field(
    default=None, ge=1, description="The version the change is based on; alternative to the If-Match header."
)


class StatusChangeIn(BaseModel):
    """Move a case through the state machine (a transfer has its own action)."""

    model_config = _IN
    status: Literal["acknowledged", "investigating", "resolved", "rejected"]
    reason: str | None = Field(
        default=None,
        max_length=1000,
        description="Shown to the citizen: required when rejecting, optional result when resolving.",
    )
    version: int | None = Version


class TransferIn(BaseModel):
    """Re-route a case to another unit (recorded; the receiving unit acknowledges it again)."""

    model_config = _IN
    unit: str = Field(min_length=1, max_length=50, description="OA key of the receiving unit.", examples=["csgt"])
    reason: str | None = Field(default=None, max_length=1000, description="Internal: why it moves.")
    version: int | None = Version


class AssignIn(BaseModel):
    model_config = _IN
    assignee: str = Field(min_length=1, max_length=100, description="Officer id.")
    version: int | None = Version


class NoteIn(BaseModel):
    """An internal note (never sent to the citizen)."""

    model_config = _IN
    text: str = Field(min_length=1, max_length=5000)
    version: int | None = Version


class ReplyIn(BaseModel):
    """A message to the reporter, sent through the OA (anonymous reporters too: the service addresses it)."""

    model_config = _IN
    text: str = Field(min_length=1, max_length=1500)
    version: int | None = Version


class ErrorOut(BaseModel):
    model_config = _OUT
    error: str = Field(description="Machine-readable code.", examples=["version_conflict"])
    detail: str | None = None
    current_version: int | None = None


class CaseSummaryOut(BaseModel):
    model_config = _OUT
    id: str
    code: str = Field(examples=["TP-26-000123"])
    status: StatusName
    kind: Literal["crime", "public_order"]
    category: str
    priority: Literal["urgent", "normal"]
    unit: str
    ward: str | None
    oa_key: str
    created_at: datetime
    updated_at: datetime
    assignee: str | None
    version: int
    excerpt: str = Field(description="The first characters of the description.")
    attachments: int


class CaseListOut(BaseModel):
    model_config = _OUT
    items: list[CaseSummaryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ReporterOut(BaseModel):
    """Never the Zalo id: anonymous reporters show nothing, others a stable pseudonym."""

    model_config = _OUT
    anonymous: bool
    pseudonym: str | None = Field(examples=["CD-4K7QX2MB"])


class LocationOut(BaseModel):
    model_config = _OUT
    latitude: float
    longitude: float
    name: str | None = None


class AttachmentOut(BaseModel):
    model_config = _OUT
    id: str
    media_type: str
    state: Literal["pending", "stored", "failed", "rejected", "skipped"]
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    attempts: int = 0
    href: str | None = Field(default=None, description="Where the stored bytes are served (when stored).")


class HistoryEntryOut(BaseModel):
    model_config = _OUT
    version: int
    at: datetime
    actor: str
    actor_role: str | None = None
    change: str
    from_status: str | None = None
    to_status: str | None = None
    from_unit: str | None = None
    to_unit: str | None = None
    assignee: str | None = None
    reason: str | None = None
    note: str | None = None
    reply: str | None = None
    notice_id: str | None = None


class CaseDetailOut(BaseModel):
    model_config = _OUT
    id: str
    code: str
    status: StatusName
    status_reason: str | None
    kind: Literal["crime", "public_order"]
    category: str
    priority: Literal["urgent", "normal"]
    priority_reason: str | None
    source: str
    unit: str
    route_rule: str | None
    oa_key: str
    ward: str | None
    ward_named: str | None
    description: str
    occurred_at_text: str | None
    place_text: str | None
    location: LocationOut | None
    reporter: ReporterOut
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    version: int
    attachments: list[AttachmentOut]
    history: list[HistoryEntryOut]


class CaseStateOut(BaseModel):
    """The case after a change."""

    model_config = _OUT
    id: str
    code: str
    status: StatusName
    unit: str
    assignee: str | None
    version: int
    updated_at: datetime
    notice_id: str | None = Field(default=None, description="The notice this change sends to the citizen, if any.")


class NoticeOut(BaseModel):
    model_config = _OUT
    id: str
    case_id: str
    case_code: str
    kind: Literal["ack", "acknowledged", "resolved", "rejected", "reply"]
    unit: str
    state: Literal["sent", "waiting", "retry", "delivered", "failed"]
    attempt: int
    created_at: datetime
    updated_at: datetime
    reason: str | None = Field(default=None, description="Last delivery outcome reason (e.g. window_closed).")
    zalo_error: int | None = None


class NoticeListOut(BaseModel):
    model_config = _OUT
    items: list[NoticeOut]


class HandoffOut(BaseModel):
    model_config = _OUT
    id: str
    oa_key: str
    unit: str
    pseudonym: str
    requested_at: datetime
    reason: str | None
    by: str


class HandoffListOut(BaseModel):
    model_config = _OUT
    items: list[HandoffOut]


class AuditEntryOut(BaseModel):
    model_config = _OUT
    id: str
    at: datetime
    actor: str
    role: str | None = None
    unit: str | None = None
    ip: str | None = None
    method: str | None = None
    route: str | None = None
    path: str | None = None
    status: int | None = None
    action: str
    case_id: str | None = None
    case_ids: list[str] = Field(default_factory=list)
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)


class AuditListOut(BaseModel):
    model_config = _OUT
    items: list[AuditEntryOut]
    next_cursor: str | None
