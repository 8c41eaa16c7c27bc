"""Builders shared by the kit's tests."""

from __future__ import annotations

from contracts import ZaloEvent, citizen_key, utcnow

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
