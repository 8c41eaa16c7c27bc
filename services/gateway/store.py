"""MongoDB adapter of the egress: OA tokens, per-command claims and outcomes, shared rate slots.

Every point where replicas compete is an insert under a unique `_id`, never a read-modify-write:
FerretDB 1.24 on SQLite runs update and findAndModify without a transaction (FerretDB issue #3040),
and we measured concurrent `$inc` losing most of its increments, so compare-and-set filters and
counters would silently admit two winners there. An insert with a unique key has exactly one winner
on FerretDB and on MongoDB alike. Updates are only made by the single owner of a document.

- tokens: an append-only log of versions per OA (`{oa_id}:{version}`); the current pair is the
  highest version. Refresh leases are inserts of `{oa_id}:{version}:{generation}`.
- sends: a claim per attempt generation (`{command_id}:{gen}`), then one outcome (`{command_id}`).
- rate: one document per slot (`{window}:{sequence}:{index}`), indexes below the lane's cap.

Lookups are by `_id` or by equality: FerretDB 1.24 pushes those down to SQLite, but not sorts,
ranges or counts (a sorted find_one took 0.5 s over 10,000 documents), so nothing on a hot path
sorts; the small token collections are the only sorted reads.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

TOKENS = "zalo_token_versions"
TOKEN_LEASES = "zalo_token_leases"  # noqa: S105 - a collection name
CLAIMS = "outbound_claims"
OUTCOMES = "outbound_outcomes"
RATE_SLOTS = "zalo_rate_slots"


def secret_hash(value: str) -> str:
    """A short fingerprint of a secret, safe to store and log."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class Sealer:
    """Encrypts tokens at rest when a Fernet key is configured; reads both sealed and clear values."""

    _PREFIX = "fernet:"

    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    @staticmethod
    def new_key() -> str:
        """A fresh key for EGRESS_TOKEN_ENCRYPTION_KEY."""
        return Fernet.generate_key().decode()

    def seal(self, value: str | None) -> str | None:
        if value is None or self._fernet is None:
            return value
        return self._PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None or not value.startswith(self._PREFIX):
            return value
        if self._fernet is None:
            raise ValueError("a token is encrypted at rest but no token_encryption_key is configured")
        try:
            return self._fernet.decrypt(value[len(self._PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a token cannot be decrypted with the configured key") from exc


async def _insert(col: Any, doc: dict[str, Any]) -> bool:
    """Insert; False when the `_id` exists (somebody else won)."""
    try:
        await col.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRecord:
    """The current version of one OA's tokens (decrypted). kind: bootstrap | grant | locked."""

    oa_id: str
    oa_key: str
    version: int
    kind: str
    access_token: str | None
    access_expires_at: datetime | None
    refresh_token: str | None

    @property
    def locked_out(self) -> bool:
        return self.kind == "locked"

    def usable(self, now: datetime, margin: timedelta) -> bool:
        """An access token that stays valid for at least `margin`."""
        return bool(self.access_token) and self.access_expires_at is not None and self.access_expires_at - margin > now


class TokenStore:
    """Append-only token versions per OA, plus refresh leases (one insert per lease generation)."""

    def __init__(self, db: AsyncDatabase, sealer: Sealer) -> None:
        self._col = db[TOKENS]
        self._leases = db[TOKEN_LEASES]
        self._sealer = sealer

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("oa_id", ASCENDING), ("version", DESCENDING)], name="oa_version")
        await self._leases.create_index(
            [("oa_id", ASCENDING), ("version", ASCENDING), ("gen", DESCENDING)], name="oa_version_gen"
        )

    def _record(self, doc: dict[str, Any]) -> TokenRecord:
        return TokenRecord(
            oa_id=doc["oa_id"],
            oa_key=doc.get("oa_key", ""),
            version=int(doc["version"]),
            kind=doc.get("kind", "grant"),
            access_token=self._sealer.open(doc.get("access_token")),
            access_expires_at=doc.get("access_expires_at"),
            refresh_token=self._sealer.open(doc.get("refresh_token")),
        )

    async def current(self, oa_id: str) -> TokenRecord | None:
        doc = await self._col.find_one({"oa_id": oa_id}, sort=[("version", DESCENDING)])
        return self._record(doc) if doc else None

    async def _append(self, oa_id: str, oa_key: str, version: int, now: datetime, **fields: Any) -> bool:
        doc = {"_id": f"{oa_id}:{version:012d}", "oa_id": oa_id, "oa_key": oa_key, "version": version, "at": now}
        return await _insert(self._col, doc | fields)

    async def adopt_bootstrap(self, oa_id: str, oa_key: str, refresh_token: str, now: datetime) -> bool:
        """Append a configured refresh token unless this very value was adopted before (it is
        single-use: after the first refresh it is dead, so a restart must not go back to it)."""
        fingerprint = secret_hash(refresh_token)
        while True:
            if await self._col.find_one({"oa_id": oa_id, "kind": "bootstrap", "refresh_hash": fingerprint}):
                return False
            current = await self.current(oa_id)
            version = (current.version if current else 0) + 1
            sealed = self._sealer.seal(refresh_token)
            if await self._append(
                oa_id, oa_key, version, now, kind="bootstrap", refresh_token=sealed, refresh_hash=fingerprint
            ):
                return True

    async def acquire_lease(self, oa_id: str, version: int, owner: str, now: datetime, until: datetime) -> bool:
        """Only one replica refreshes from `version`: the one whose lease insert wins. An expired lease
        is superseded by the next generation (again an insert, so again one winner)."""
        latest = await self._leases.find_one({"oa_id": oa_id, "version": version}, sort=[("gen", DESCENDING)])
        if latest is not None and latest["until"] > now:
            return False
        gen = latest["gen"] + 1 if latest else 0
        lease = {"_id": f"{oa_id}:{version}:{gen}", "oa_id": oa_id, "version": version, "gen": gen}
        return await _insert(self._leases, lease | {"owner": owner, "until": until, "at": now})

    async def release_lease(self, oa_id: str, version: int, owner: str, now: datetime) -> None:
        await self._leases.update_many({"oa_id": oa_id, "version": version, "owner": owner}, {"$set": {"until": now}})

    async def save_grant(
        self, oa_id: str, oa_key: str, access: str, refresh: str, expires_at: datetime, now: datetime
    ) -> TokenRecord:
        """Append a new pair as the next version. It is always appended (after whatever version is
        current): Zalo has already rotated, so this pair is the only valid one."""
        while True:
            current = await self.current(oa_id)
            version = (current.version if current else 0) + 1
            if await self._append(
                oa_id,
                oa_key,
                version,
                now,
                kind="grant",
                access_token=self._sealer.seal(access),
                refresh_token=self._sealer.seal(refresh),
                access_expires_at=expires_at,
                refresh_hash=secret_hash(refresh),
            ):
                return TokenRecord(oa_id, oa_key, version, "grant", access, expires_at, refresh)

    async def mark_locked_out(self, oa_id: str, oa_key: str, after: int, reason: str, now: datetime) -> bool:
        """Append a `locked` version after `after`; False if another version got there first."""
        return await self._append(oa_id, oa_key, after + 1, now, kind="locked", reason=reason)

    async def purge(self, oa_id: str, keep: int = 10) -> int:
        current = await self.current(oa_id)
        if current is None:
            return 0
        result = await self._col.delete_many({"oa_id": oa_id, "version": {"$lte": current.version - keep}})
        await self._leases.delete_many({"oa_id": oa_id, "version": {"$lt": current.version}})
        return result.deleted_count


# ---------------------------------------------------------------------------------------------
# Claims and outcomes of commands
# ---------------------------------------------------------------------------------------------


class SendStore:
    """`outbound_claims`: `{command_id}:{gen}` with owner, lease and progress (updated by its owner
    only); `outbound_outcomes`: `{command_id}` with the final outcome (first writer wins).

    A command whose latest claim has an expired lease and no outcome was interrupted between claiming
    and recording (the crash window of docs/gateway.md)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._claims = db[CLAIMS]
        self._outcomes = db[OUTCOMES]

    async def ensure_indexes(self) -> None:
        await self._claims.create_index([("command_id", ASCENDING), ("gen", DESCENDING)], name="command_gen")
        await self._claims.create_index([("claimed_at", ASCENDING)], name="claimed_at")
        await self._outcomes.create_index([("finished_at", ASCENDING)], name="finished_at")

    async def claim(self, command_id: str, gen: int, owner: str, until: datetime, now: datetime, **fields: Any) -> bool:
        doc = {"_id": f"{command_id}:{gen}", "command_id": command_id, "gen": gen, "owner": owner}
        return await _insert(self._claims, doc | {"lease_until": until, "claimed_at": now} | fields)

    async def latest_claim(self, command_id: str) -> dict[str, Any] | None:
        """The highest claim generation (generations are few: one per takeover)."""
        latest = None
        gen = 0
        while (doc := await self._claims.find_one({"_id": f"{command_id}:{gen}"})) is not None:
            latest, gen = doc, gen + 1
        return latest

    async def outcome(self, command_id: str) -> dict[str, Any] | None:
        return await self._outcomes.find_one({"_id": command_id})

    async def renew(self, command_id: str, gen: int, until: datetime) -> None:
        await self._claims.update_one({"_id": f"{command_id}:{gen}"}, {"$set": {"lease_until": until}})

    async def progress(self, command_id: str, gen: int, **fields: Any) -> None:
        """Remember how far a multi-step command got (article token, id, broadcast stage)."""
        await self._claims.update_one({"_id": f"{command_id}:{gen}"}, {"$set": fields})

    async def finish(
        self, command_id: str, status: str, outcome: dict[str, Any], owner: str, now: datetime
    ) -> dict[str, Any]:
        """Record the final outcome; if another replica recorded one first, return that one."""
        doc = {"_id": command_id, "status": status, "outcome": outcome, "owner": owner, "finished_at": now}
        if await _insert(self._outcomes, doc):
            return doc
        existing = await self._outcomes.find_one({"_id": command_id})
        assert existing is not None, "an outcome vanished"
        return existing

    async def purge_older_than(self, days: int, now: datetime) -> int:
        cutoff = now - timedelta(days=days)
        result = await self._outcomes.delete_many({"finished_at": {"$lt": cutoff}})
        await self._claims.delete_many({"claimed_at": {"$lt": cutoff}})
        return result.deleted_count


# ---------------------------------------------------------------------------------------------
# Rate slots
# ---------------------------------------------------------------------------------------------


class RateSlots:
    """Numbered slots per window and sequence (`t`: all calls, `c`: campaign calls). Taking slots is
    an unordered insert of indices below the cap: every index has one owner. Each replica walks the
    indices from 0 with its own cursor and learns about slots other replicas took from the inserts
    that fail, so no read is needed; a closing marker (after -32) is the one read."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db[RATE_SLOTS]

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("at", ASCENDING)], name="at")

    async def take(self, window: str, seq: str, start: int, n: int, cap: int, now: datetime) -> int:
        """Insert slots [start, start + n) ∩ [0, cap); returns how many of them are now ours."""
        end = min(start + n, cap)
        if end <= start:
            return 0
        docs = [{"_id": f"{window}:{seq}:{i}", "at": now} for i in range(start, end)]
        try:
            result = await self._col.insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # another replica took some (or all) of them first
            return int(exc.details.get("nInserted", 0))
        return len(result.inserted_ids)

    async def close(self, window: str, now: datetime) -> None:
        """Zalo said -32: mark the window full for every replica."""
        with contextlib.suppress(DuplicateKeyError):
            await self._col.insert_one({"_id": f"{window}:closed", "at": now})

    async def closed(self, window: str) -> bool:
        return await self._col.find_one({"_id": f"{window}:closed"}, {"_id": 1}) is not None

    async def used(self, window: str, seq: str = "t", cap: int = 100_000) -> int:
        """Slots taken in a window (for tests and reports: probes every index)."""
        ids = [f"{window}:{seq}:{i}" for i in range(cap)]
        return await self._col.count_documents({"_id": {"$in": ids}})

    async def purge_before(self, cutoff: datetime) -> int:
        result = await self._col.delete_many({"at": {"$lt": cutoff}})
        return result.deleted_count
