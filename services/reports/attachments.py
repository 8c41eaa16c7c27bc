"""Attachment downloads: images referenced by a report, fetched in the background after intake.

The case never waits for its photos: intake queues them and acknowledges the citizen at once. A worker
(one per replica; each attempt is claimed so two replicas never make the same attempt) downloads with
a size cap, accepts JPEG, PNG and WebP by their magic bytes (not by the server's Content-Type), hashes
with SHA-256 and stores the bytes content-addressed in 255 KB chunk documents. A failed attempt is
retried with exponential backoff up to `attachment_max_attempts`; a refused one (too large, not an
image, host not allowed) is not retried. Only hosts on `media_allowed_hosts` are fetched (SSRF guard);
the dev environment also allows loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import aiohttp

from services.reports.deps import Deps
from services.reports.domain import backoff_s
from services.reports.store import Doc, ms

log = logging.getLogger("reports.attachments")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REDIRECTS = 3


class Refused(Exception):
    """A download that will never be acceptable (no retry)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Failed(Exception):
    """A download that may work later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sniff_image(data: bytes) -> str | None:
    """The image type by magic bytes: image/jpeg, image/png, image/webp, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def host_allowed(url: str, allowed: list[str], allow_loopback: bool) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower().rstrip(".")
    if allow_loopback and host in LOOPBACK:
        return True
    return any(host == h.lower() or host.endswith("." + h.lower()) for h in allowed)


async def fetch(
    session: aiohttp.ClientSession, url: str, *, max_bytes: int, timeout_s: float, allowed: list[str], loopback: bool
) -> bytes:
    """The body of `url`, at most `max_bytes`, following redirects only to allowed hosts."""
    for _ in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowed, loopback):
            raise Refused("host")
        try:
            async with session.get(url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                    url = urljoin(url, resp.headers["Location"])
                    continue
                if resp.status != 200:
                    raise Failed(f"http_{resp.status}")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise Refused("too_large")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise Refused("too_large")
                return bytes(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Failed("network") from exc
    raise Failed("redirects")


async def attempt_download(deps: Deps, item: Doc) -> str:
    """One attempt on one queued attachment; returns the outcome (stored, retry, failed, rejected, skipped)."""
    s, store = deps.settings, deps.store
    attachment_id = item["_id"]
    attempt = int(item.get("attempt", 0)) + 1
    now = deps.clock()
    if not await store.lease_attachment(attachment_id, attempt, now):
        lease = await store.attachment_leases.find_one({"_id": f"{attachment_id}:{attempt:03d}"})
        if lease is not None and (now - lease["at"]).total_seconds() > 2 * s.attachment_timeout_s + 30:
            # the worker that took this attempt died with it: count the attempt and move on
            await store.reschedule_attachment(attachment_id, attempt, now, "abandoned")
        return "leased"
    att = await store.get_attachment(attachment_id)
    if att is None:  # queued by an intake that has not registered it yet (or crashed in between)
        if attempt >= s.attachment_max_attempts:
            await store.finish_attachment(attachment_id, {})
        else:
            await store.reschedule_attachment(attachment_id, attempt, now + timedelta(seconds=5), "unregistered")
        return "unregistered"
    if att.get("state") != "pending":
        await store.finish_attachment(attachment_id, {})
        return "done"
    if att.get("media_type") != "image":
        await store.finish_attachment(attachment_id, {"state": "skipped", "attempts": attempt - 1})
        return "skipped"
    try:
        data = await fetch(
            deps.http,
            att["url"],
            max_bytes=s.attachment_max_bytes,
            timeout_s=s.attachment_timeout_s,
            allowed=s.media_allowed_hosts,
            loopback=s.environment == "dev",
        )
        content_type = sniff_image(data)
        if content_type is None:
            raise Refused("type")
        digest = hashlib.sha256(data).hexdigest()
        await store.store_blob(digest, data, content_type, s.attachment_chunk_bytes, now)
    except Refused as exc:
        deps.metrics.attachment_failures.labels(exc.reason).inc()
        await store.finish_attachment(
            attachment_id, {"state": "rejected", "attempts": attempt, "last_error": exc.reason}
        )
        log.info("attachment refused", extra={"attachment": attachment_id, "reason": exc.reason})
        return "rejected"
    except Failed as exc:
        deps.metrics.attachment_failures.labels("http" if exc.reason.startswith("http") else exc.reason).inc()
        if attempt >= s.attachment_max_attempts:
            await store.finish_attachment(
                attachment_id, {"state": "failed", "attempts": attempt, "last_error": exc.reason}
            )
            log.warning("attachment download gave up", extra={"attachment": attachment_id, "attempts": attempt})
            return "failed"
        delay = backoff_s(attempt, s.attachment_backoff_initial_s, s.attachment_backoff_max_s, deps.rng())
        await store.reschedule_attachment(attachment_id, attempt, now + timedelta(seconds=delay), exc.reason)
        log.info("attachment download failed, will retry", extra={"attachment": attachment_id, "attempt": attempt})
        return "retry"
    await store.finish_attachment(
        attachment_id,
        {
            "state": "stored",
            "attempts": attempt,
            "sha256": digest,
            "size": len(data),
            "content_type": content_type,
            "stored_at": ms(now),
            "last_error": None,
        },
    )
    return "stored"


async def run_worker(deps: Deps, stopping: asyncio.Event) -> None:
    """Download due attachments until stopped; woken at once by a new intake, else polls."""
    while not stopping.is_set():
        progressed = False
        try:
            for item in await deps.store.due_attachments(deps.clock(), 20):
                outcome = await attempt_download(deps, item)
                if outcome in ("stored", "retry", "failed", "rejected", "skipped"):
                    deps.metrics.attachment_downloads.labels(outcome).inc()
                    progressed = True
        except Exception as exc:
            log.warning("attachment worker pass failed", extra={"error": type(exc).__name__})
        if progressed:
            continue
        deps.attachments_wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(deps.attachments_wakeup.wait(), deps.settings.attachment_poll_s)
