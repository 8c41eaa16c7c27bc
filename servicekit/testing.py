"""Test helpers shared by every ring: waiting without sleeps, real infrastructure handles."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll_until(fn: Callable[[], Awaitable[T]], what: str, timeout: float = 15.0, interval: float = 0.05) -> T:
    """Call `fn` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str = "t") -> str:
    """A fresh name for a topic prefix, group or database: isolation by naming, not teardown."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# Topic prefixes this test session created; the root conftest deletes what is left under them at the end.
SESSION_PREFIXES: set[str] = set()


def register_prefix(prefix: str) -> str:
    """Mark a topic prefix as this session's, so the end-of-session sweep removes what is left under it."""
    SESSION_PREFIXES.add(prefix)
    return prefix
