"""Deterministic ids: a record derived from another gets an id computed from its cause, so that
a redelivered cause produces the same derived id and downstream deduplication catches it."""

from __future__ import annotations

import hashlib
import uuid


def derived_id(*parts: object) -> str:
    """A stable 32-hex id from the given parts (order matters)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def new_id() -> str:
    """A fresh random id (only for facts that have no cause to derive from)."""
    return uuid.uuid4().hex
