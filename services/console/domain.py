"""Pure rules of the console: what the pages are told at start, and which upstream URL a proxied path
maps to. No I/O.

The case state machine and the campaign rules are imported from the reports and news domains (their one
source): the officer API does not publish the allowed transitions, and mirroring them here would drift.
The APIs still decide; the pages only avoid offering what would be refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from yarl import URL

from servicekit.registry import Registry
from services.console.settings import ConsoleSettings
from services.news import domain as news_domain
from services.reports import domain as reports_domain
from services.reports.apimodels import NoteIn, ReplyIn, StatusChangeIn, TransferIn

API_VERSION = "v1"
CAMPAIGN_ACTIONS = ("approve", "pause", "resume", "cancel")

# Headers a browser request may carry to an API (everything else, cookies first of all, stays here).
REQUEST_HEADERS = ("Accept", "Accept-Language", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key")
# Headers of an API answer the browser gets.
RESPONSE_HEADERS = (
    "Allow",
    "Cache-Control",
    "Content-Disposition",
    "Content-Security-Policy",
    "Content-Type",
    "ETag",
    "Last-Modified",
    "Retry-After",
    "WWW-Authenticate",
)


def _max_length(model: Any, name: str) -> int:
    """The maxLength the API's own request model declares for a field (nullable fields too)."""
    prop = model.model_json_schema()["properties"][name]
    options = prop.get("anyOf", [prop])
    return min(int(o["maxLength"]) for o in options if "maxLength" in o)


def wards(registry: Registry) -> tuple[list[str], list[str]]:
    """Today's wards (ward OAs and the wards after the mergers) and the old names that still reach them."""
    current = {o.ward for o in registry.oas if o.ward}
    old: set[str] = set()
    if registry.mergers is not None:
        current |= set(registry.mergers.new_wards)
        old = set(registry.mergers.old_to_new) - current
    return sorted(current), sorted(old)


def page_config(settings: ConsoleSettings, registry: Registry) -> dict[str, Any]:
    """Everything the pages need besides the caller: settings, the organisation, the rules they mirror."""
    current, old = wards(registry)
    return {
        "dev_login": settings.dev_login,
        "poll_interval_ms": int(settings.poll_interval_s * 1000),
        "progress_poll_ms": int(settings.progress_poll_s * 1000),
        "sign_in_url": settings.sign_in_url,
        "sign_out_url": settings.sign_out_url,
        "dev_roles": ["officer", "supervisor", "auditor", "editor"],
        "organisation": registry.organisation,
        "oas": [
            {"key": o.key, "name": o.display_name, "kind": o.kind, "ward": o.ward, "role": o.role} for o in registry.oas
        ],
        "wards": current,
        "old_wards": old,
        "cases": {
            "statuses": list(reports_domain.STATUSES),
            "final": sorted(reports_domain.FINAL_STATUSES),
            "transitions": {k: sorted(v) for k, v in reports_domain.TRANSITIONS.items()},
            "reply_max": _max_length(ReplyIn, "text"),
            "note_max": _max_length(NoteIn, "text"),
            "reason_max": _max_length(StatusChangeIn, "reason"),
            "transfer_reason_max": _max_length(TransferIn, "reason"),
        },
        "campaigns": {
            "states": list(news_domain.STATES),
            "final": list(news_domain.FINAL_STATES),
            "action_sources": {a: sorted(news_domain.sources_of(a)) for a in CAMPAIGN_ACTIONS},
            "title_max": news_domain.TITLE_MAX,
            "summary_max": news_domain.SUMMARY_MAX,
            "text_max": news_domain.TEXT_MAX,
            "button_read": news_domain.BTN_READ,
            "button_unsubscribe": news_domain.BTN_UNSUBSCRIBE,
            "read_more_line": news_domain.READ_MORE_LINE,
        },
    }


def upstream_url(base: str, raw_tail: str, raw_query: str) -> URL | None:
    """`{base}/api/v1/…` for a proxied tail `v1/…` (still percent-encoded), or None when the tail leaves
    the API: only versioned API paths are forwarded, never /metrics, /readyz or a `..` walk."""
    segments = raw_tail.split("/")
    if segments[0] != API_VERSION:
        return None
    for segment in segments[1:]:
        decoded = unquote(segment)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            return None
    url = f"{base}/api/{raw_tail}"
    if raw_query:
        url += f"?{raw_query}"
    return URL(url, encoded=True)


def pick_headers(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    return {name: headers[name] for name in names if name in headers}


def forwarded_for(existing: str | None, remote: str | None) -> str | None:
    """X-Forwarded-For with this hop appended (the reports API may take the first entry as the client)."""
    parts = [p.strip() for p in (existing or "").split(",") if p.strip()]
    if remote:
        parts.append(remote)
    return ", ".join(parts) or None
