"""Conversation state per citizen in MongoDB, with optimistic concurrency.

One document per citizen of an OA (`_id` = "{oa_id}:{user_id}"), carrying a `version` that every save
must match. The document also keeps the outputs of the last turn, so that a redelivery of the event
that produced them re-emits exactly the same records (same ids, deduplicated downstream) instead of
nothing: a crash between saving the state and publishing the replies loses no reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.errors import RetryableError


class ConcurrentUpdate(RetryableError):
    """Someone else saved this conversation first: reload and run the turn again."""


@dataclass(frozen=True)
class StoredConversation:
    state: dict[str, Any]
    version: int
    last_event_id: str | None
    last_outputs: list[dict[str, Any]]


class ConversationStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db["conversations"]

    async def ensure_indexes(self) -> None:
        await self._col.create_index("updated_at", name="updated_at")

    async def load(self, key: str) -> StoredConversation | None:
        doc = await self._col.find_one({"_id": key})
        if doc is None:
            return None
        return StoredConversation(doc["state"], doc["version"], doc.get("last_event_id"), doc.get("last_outputs", []))

    async def save(
        self,
        key: str,
        state: dict[str, Any],
        expected_version: int,
        event_id: str,
        outputs: list[dict[str, Any]],
        now: Any,
    ) -> None:
        fields = {"state": state, "last_event_id": event_id, "last_outputs": outputs, "updated_at": now}
        if expected_version == 0:
            try:
                await self._col.insert_one({"_id": key, "version": 1, **fields})
            except DuplicateKeyError as exc:
                raise ConcurrentUpdate(key) from exc
            return
        result = await self._col.update_one(
            {"_id": key, "version": expected_version}, {"$set": fields, "$inc": {"version": 1}}
        )
        if result.matched_count == 0:
            raise ConcurrentUpdate(key)
