"""Pure rules of the Zalo edge: webhook signatures, event identity, normalisation into the contract.

Every fact about Zalo's webhook lives here, with its certainty from shared/zalo-oa-api.md:
- [C] header `X-ZEvent-Signature: mac=<sha256hex(app_id + raw_body + timestamp + oa_secret_key)>`,
  plain SHA-256 (not HMAC), over the raw bytes, timestamp = the body's `timestamp` string (§2.1);
- [C] retries resend the same body with a `num_retry` header (§2.3);
- [C] msg_id dedupes message events; [U] events without one use (event_name, ids, timestamp) (§7);
- [C] follow/unfollow carry `oa_id` + `follower.id` and no sender/recipient (§1.4);
- [C] location coordinates may be strings (§1.4); [U] `user_submit_info.info` may be flat or nested.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import Attachment, Location, ZaloEvent
from servicekit.registry import OfficialAccount, Registry

SIGNATURE_HEADER = "X-ZEvent-Signature"
RETRY_HEADER = "num_retry"

INBOUND_PREFIXES = ("user_send_", "anonymous_send_")
INBOUND_EVENTS = {"user_submit_info", "user_click_chatnow", "user_reacted_message"}
RECEIPT_EVENTS = {"user_received_message", "user_seen_message"}
MANAGEMENT_EVENTS = {"follow", "unfollow", "add_user_to_tag", "remove_user_from_tag", "remove_tag"}
ECHO_PREFIXES = ("oa_send_",)


class WebhookRejected(Exception):
    """The request must be refused; `status` and `reason` say how (reason is a metric label)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


def expected_signature(app_id: str, raw_body: bytes, timestamp: str, secret: str) -> str:
    """Zalo's webhook MAC: sha256 over app_id + raw body + timestamp + OA secret key, lower-case hex."""
    return hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + secret.encode()).hexdigest()


def signature_matches(header_value: str | None, expected: str) -> bool:
    """Constant-time comparison; accepts the value with or without the `mac=` prefix."""
    if not header_value:
        return False
    got = header_value.strip()
    if got.lower().startswith("mac="):
        got = got[4:].strip()
    return hmac.compare_digest(got.lower().encode(), expected.encode())


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a webhook body, or WebhookRejected(400)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, "malformed", "body is not JSON") from exc
    if not isinstance(body, dict):
        raise WebhookRejected(400, "malformed", "body is not a JSON object")
    for field in ("event_name", "timestamp"):
        if field not in body:
            raise WebhookRejected(400, "malformed", f"missing {field}")
    return body


def oa_id_of(body: dict[str, Any]) -> str | None:
    """The OA an event belongs to, wherever this event type puts it."""
    name = str(body.get("event_name", ""))
    if "oa_id" in body:
        return str(body["oa_id"])
    sender, recipient = _id(body.get("sender")), _id(body.get("recipient"))
    if name.startswith(ECHO_PREFIXES) or name in RECEIPT_EVENTS:
        return sender
    return recipient


def user_id_of(body: dict[str, Any]) -> str | None:
    """The citizen an event is about (sender of user events, recipient of echoes, the follower)."""
    name = str(body.get("event_name", ""))
    if isinstance(body.get("follower"), dict):
        return _id(body["follower"])
    if "user_id" in body:
        return str(body["user_id"])
    if name.startswith(ECHO_PREFIXES) or name in RECEIPT_EVENTS:
        return _id(body.get("recipient"))
    return _id(body.get("sender"))


def direction_of(event_name: str) -> str:
    if event_name.startswith(INBOUND_PREFIXES) or event_name in INBOUND_EVENTS:
        return "inbound"
    if event_name.startswith(ECHO_PREFIXES):
        return "echo"
    if event_name in RECEIPT_EVENTS:
        return "receipt"
    if event_name in MANAGEMENT_EVENTS:
        return "management"
    return "unknown"


def timestamp_ms(body: dict[str, Any]) -> int:
    try:
        return int(str(body["timestamp"]).strip())
    except (ValueError, KeyError) as exc:
        raise WebhookRejected(400, "malformed", "timestamp is not epoch milliseconds") from exc


def check_freshness(ts_ms: int, now: datetime, max_age_s: float, max_skew_s: float) -> None:
    """Refuse replays: events older than the retry ladder allows, or from the future."""
    age = now.timestamp() - ts_ms / 1000
    if age > max_age_s:
        raise WebhookRejected(401, "stale", "event timestamp is too old")
    if age < -max_skew_s:
        raise WebhookRejected(401, "stale", "event timestamp is in the future")


def event_id_of(body: dict[str, Any], oa_id: str | None, user_id: str | None) -> str:
    """Zalo's msg_id where the event has one; otherwise a hash of the identifying fields."""
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    name = str(body.get("event_name"))
    msg_id = message.get("msg_id")
    if msg_id and name not in RECEIPT_EVENTS:
        return f"zalo:{msg_id}" if not name.startswith(ECHO_PREFIXES) else f"zalo-echo:{msg_id}"
    ids = message.get("msg_ids") or ([msg_id] if msg_id else [])
    parts = [name, oa_id or "", user_id or "", str(body.get("timestamp")), ",".join(sorted(map(str, ids)))]
    return "zalo-h:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Verified:
    """A webhook that passed every check, ready to publish."""

    event: ZaloEvent
    key: str


def normalise(
    body: dict[str, Any], oa: OfficialAccount | None, registry: Registry, now: datetime, producer: str
) -> ZaloEvent:
    """The contract record of a verified webhook body (raw kept as parsed)."""
    name = str(body["event_name"])
    oa_id = oa_id_of(body) or ""
    user_id = user_id_of(body)
    event_id = event_id_of(body, oa_id, user_id)
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    attachments, location = _attachments(message)
    if location is not None and message.get("text"):
        location = location.model_copy(update={"name": str(message["text"])[:200]})
    info = body.get("info") or body.get("shared_info")
    return ZaloEvent(
        event_id=event_id,
        occurred_at=now,
        producer=producer,
        correlation_id=event_id,
        app_id=str(body.get("app_id") or registry.app_id),
        oa_id=oa_id,
        oa_key=oa.key if oa else "unregistered",
        user_id=user_id,
        event_name=name,
        direction=direction_of(name),
        zalo_timestamp_ms=timestamp_ms(body),
        message_id=str(message["msg_id"]) if message.get("msg_id") else None,
        text=str(message["text"]) if isinstance(message.get("text"), str) else None,
        attachments=attachments,
        location=location,
        submitted_info=info if isinstance(info, dict) else None,
        follow_source=str(body["source"]) if body.get("source") else None,
        raw=body,
    )


def _attachments(message: dict[str, Any]) -> tuple[list[Attachment], Location | None]:
    out: list[Attachment] = []
    location: Location | None = None
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type", "unknown"))
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        if kind == "location":
            coords = payload.get("coordinates") or {}
            try:
                location = Location(latitude=float(coords["latitude"]), longitude=float(coords["longitude"]))
            except (KeyError, TypeError, ValueError):
                location = None
            continue
        size = payload.get("size")
        out.append(
            Attachment(
                type=kind,
                url=payload.get("url"),
                thumbnail=payload.get("thumbnail"),
                name=payload.get("name"),
                size=int(size) if str(size or "").isdigit() else None,
            )
        )
    return out, location


def _id(node: Any) -> str | None:
    if isinstance(node, dict) and node.get("id") is not None:
        return str(node["id"])
    return None


class RecentIds:
    """Event ids published within a time window (bounded): a Zalo retry of one of them is not re-published.

    Per process: replicas do not share it, which is fine because every consumer also deduplicates on
    event_id; this only keeps the topic clean of the common case (a retry after a slow 200).
    """

    def __init__(self, window_s: float, max_entries: int) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}

    def contains(self, event_id: str, now_s: float) -> bool:
        at = self._seen.get(event_id)
        return at is not None and now_s - at <= self.window_s

    def add(self, event_id: str, now_s: float) -> None:
        self._seen.pop(event_id, None)
        self._seen[event_id] = now_s  # dicts keep insertion order: oldest first
        while len(self._seen) > self.max_entries:
            self._seen.pop(next(iter(self._seen)))
        # Oldest first: expire a few from the front (islice, not list(): the map holds up to max_entries).
        expired = [k for k, at in itertools.islice(self._seen.items(), 64) if now_s - at > self.window_s]
        for old in expired:
            del self._seen[old]
