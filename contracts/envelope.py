"""The envelope every record on every topic carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Envelope(BaseModel):
    """Common fields of every event: identity, time, origin and the causal chain."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION,
        description="Major version of the record's schema; equals the topic's `.vN` suffix.",
        examples=[1],
    )
    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="Stable id of this record. Consumers deduplicate on it; a redelivery carries the same id.",
        examples=["zalo:96d3cdf3af150460909"],
    )
    occurred_at: datetime = Field(
        description="When the fact happened (UTC, ISO 8601).",
        examples=["2026-11-30T05:00:00Z"],
    )
    producer: str = Field(
        min_length=1, description="The deployable that produced the record.", examples=["gateway-ingress"]
    )
    correlation_id: str = Field(
        min_length=1,
        description="Id of the citizen interaction this record descends from (the first event's id).",
        examples=["zalo:96d3cdf3af150460909"],
    )


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def citizen_key(oa_id: str, user_id: str | None) -> str:
    """Partition key for records about one citizen of one OA: per-citizen ordering."""
    return f"{oa_id}:{user_id or '-'}"
