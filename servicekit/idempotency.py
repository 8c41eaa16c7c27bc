"""Idempotency records: which event_ids a consumer has fully handled.

The record's `_id` is "{consumer}|{event_id}": a primary-key lookup and a primary-key insert, the
cheapest and most portable unique key there is (FerretDB 1.24 on SQLite turned out to scan for
compound-field lookups, and its updates are not atomic; inserts on `_id` are).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

COLLECTION = "processed_events"


class IdempotencyStore:
    """Remembers handled (consumer, event_id) pairs; a duplicate-key error means "already done"."""

    def __init__(self, db: AsyncDatabase, consumer: str) -> None:
        self._col = db[COLLECTION]
        self.consumer = consumer

    def _key(self, event_id: str) -> str:
        return f"{self.consumer}|{event_id}"

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("done_at", ASCENDING)], name="done_at")

    async def seen(self, event_id: str) -> bool:
        doc = await self._col.find_one({"_id": self._key(event_id)}, {"_id": 1})
        return doc is not None

    async def mark(self, event_id: str, topic: str) -> bool:
        """Record the event as handled; False when it already was (a concurrent duplicate)."""
        try:
            await self._col.insert_one(
                {
                    "_id": self._key(event_id),
                    "consumer": self.consumer,
                    "event_id": event_id,
                    "topic": topic,
                    "done_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def purge_older_than(self, days: int) -> int:
        """Forget records older than the topics' retention (FerretDB 1.24 has no TTL indexes we rely on)."""
        cutoff = datetime.now(UTC) - timedelta(days=days)
        result = await self._col.delete_many({"consumer": self.consumer, "done_at": {"$lt": cutoff}})
        return result.deleted_count
