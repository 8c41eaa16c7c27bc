"""Builders shared by the kit's tests."""

from __future__ import annotations

from contracts import DeliveryOutcome, OutboundCommand, ZaloEvent, citizen_key, utcnow
from servicekit.testing import unique

OA_ID = "4318000000000000001"


def zalo_event(event_id: str, text: str = "xin chào", user_id: str = "246845883529197922") -> ZaloEvent:
    return ZaloEvent(
        event_id=event_id,
        occurred_at=utcnow(),
        producer="test",
        correlation_id=event_id,
        app_id="4318000000000000000",
        oa_id=OA_ID,
        oa_key="tanphu",
        user_id=user_id,
        event_name="user_send_text",
        direction="inbound",
        zalo_timestamp_ms=1751100041636,
        message_id=event_id,
        text=text,
        raw={},
    )


def key_of(event: ZaloEvent) -> str:
    return citizen_key(event.oa_id, event.user_id)


def outcome_of(
    cmd: OutboundCommand,
    *,
    status: str = "sent",
    reason: str = "ok",
    zalo_error: int | None = None,
    retryable: bool = False,
) -> DeliveryOutcome:
    """What the egress publishes for `cmd` (sent, or failed with `reason`), its context echoed."""
    return DeliveryOutcome(
        event_id=unique("out"),
        occurred_at=utcnow(),
        producer="gateway-egress",
        correlation_id=cmd.correlation_id,
        command_id=cmd.command_id,
        oa_id=cmd.oa_id,
        user_id=cmd.user_id,
        action="send",
        lane=cmd.lane,
        status=status,  # type: ignore[arg-type]
        zalo_message_id="m1" if status == "sent" else None,
        zalo_error=zalo_error,
        reason=reason,  # type: ignore[arg-type]
        retryable=retryable,
        attempts=1 if status == "sent" else 6,
        context=dict(cmd.context),
    )
