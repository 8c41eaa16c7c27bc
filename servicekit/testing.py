"""Test helpers shared by every ring: waiting without sleeps, real infrastructure handles."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from pymongo import MongoClient

T = TypeVar("T")
log = logging.getLogger("servicekit.testing")


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


def rsa_key_pair() -> tuple[str, str]:
    """A fresh RSA key pair as PEM (private, public), for RS256 tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return private, key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def unique(prefix: str = "t") -> str:
    """A fresh name for a topic prefix, group or database: isolation by naming (open recordings note it)."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    for names in _recordings:
        names.add(name)
    return name


# The open recordings of names unique() gave out (the root conftest keeps one per test and one per session).
_recordings: list[set[str]] = []


@contextmanager
def recording_names() -> Iterator[set[str]]:
    """Every name unique() gives out inside the block: the databases among them can be dropped after it."""
    names: set[str] = set()
    _recordings.append(names)
    try:
        yield names
    finally:
        _recordings[:] = [r for r in _recordings if r is not names]


# What FerretDB accepts as a database name; anything else (a topic prefix with its dot) cannot be one.
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


def drop_databases(mongo_uri: str, names: Collection[str]) -> None:
    """Drop every database of one of these names (best effort: a failure is logged, never raised).

    Each name is dropped blindly: dropping a database that does not exist costs a fraction of a
    millisecond, while listing the databases first takes FerretDB (SQLite) a scan of all of them.
    """
    candidates = sorted(n for n in names if _DATABASE_NAME.match(n))
    if not candidates:
        return
    try:
        with MongoClient(mongo_uri, serverSelectionTimeoutMS=2000, timeoutMS=10_000) as client:
            for name in candidates:
                client.drop_database(name)
    except Exception as exc:  # never fail a test over its cleanup
        log.warning("test databases not dropped: %s", exc)


# Topic prefixes this test session created; the root conftest deletes what is left under them at the end.
SESSION_PREFIXES: set[str] = set()


def register_prefix(prefix: str) -> str:
    """Mark a topic prefix as this session's, so the end-of-session sweep removes what is left under it."""
    SESSION_PREFIXES.add(prefix)
    return prefix
