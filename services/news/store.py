"""MongoDB adapter of the news service (MongoDB 7 and FerretDB 1.24: no transactions, no change streams).

Collections:
- `subscribers`: one document per (OA, follower), `_id` = "{oa_id}:{user_id}". Registry changes are
  compare-and-set on a version `v`; the last interaction is a separate `$max` so it never races them.
- `suppressions`: "{reason}:{oa_id}:{user_id}" markers written on unfollow/opt-out; running campaigns
  check them right before each send (their delivery records were planned earlier).
- `campaigns`: the campaign as editors see it, its state and an outbox of lifecycle events written in
  the same update as each state change;
- `fanout`: the runner's own bookkeeping per campaign (articles produced, plan counts, the resumable
  cursor, counters), written only by the holder of the campaign's lease;
- `deliveries`: one record per (campaign, recipient) and per (campaign, OA) for broadcasts; `_id` is
  the unique key (`{campaign_id}.dm.{hash}` / `{campaign_id}.article.{oa_id}`), so a replan or a
  restart can never plan a recipient twice.
- `leases`: one runner per campaign across replicas (owner + expiry, taken with findAndModify);
- `retry_hints`: "a retry of campaign C is due at T", left by the outcome consumer for the runner.

FerretDB 1.24 (SQLite backend) answers most queries with a scan, and applies update operators as
read-modify-write without isolation: two concurrent updates of one document can lose one (measured:
300 + 300 concurrent `$inc` gave 277). Hence one writer per document where possible (the `fanout`
split), in-process locks around the others (`KeyedLocks`), and hot paths made of inserts (a
duplicate key means "already done") and streaming cursors. MongoDB needs none of this but is not
harmed by it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from servicekit.errors import RetryableError
from services.news.domain import CountRow, Subscriber, ward_key

SUBSCRIBER_FIELDS = (
    "oa_id",
    "user_id",
    "following",
    "membership_ms",
    "oa_ward",
    "chosen_ward",
    "ward",
    "previous_ward",
    "ward_changed_by",
    "topics",
    "muted_topics",
    "opted_out",
    "followed_at",
    "unfollowed_at",
    "last_event_id",
)


def subscriber_doc(s: Subscriber, now: datetime | None = None) -> dict[str, Any]:
    """The stored form of a subscriber (also used by the benchmark and tests to seed followers)."""
    doc = {k: v for k, v in asdict(s).items() if k != "v"}
    doc["topics"] = list(s.topics)
    doc["muted_topics"] = list(s.muted_topics)
    doc["_id"] = s.key
    doc["ward_key"] = ward_key(s.ward) if s.ward else None
    doc["v"] = s.v
    if now is not None:
        doc["updated_at"] = now
    return doc


def subscriber_from_doc(d: dict[str, Any]) -> Subscriber:
    return Subscriber(
        oa_id=d["oa_id"],
        user_id=d["user_id"],
        following=bool(d.get("following", False)),
        membership_ms=int(d.get("membership_ms", -1)),
        oa_ward=d.get("oa_ward"),
        chosen_ward=d.get("chosen_ward"),
        ward=d.get("ward"),
        previous_ward=d.get("previous_ward"),
        ward_changed_by=d.get("ward_changed_by"),
        topics=tuple(d.get("topics") or ()),
        muted_topics=tuple(d.get("muted_topics") or ()),
        opted_out=bool(d.get("opted_out", False)),
        last_interaction_at=d.get("last_interaction_at"),
        followed_at=d.get("followed_at"),
        unfollowed_at=d.get("unfollowed_at"),
        last_event_id=d.get("last_event_id"),
        v=int(d.get("v", 0)),
    )


class KeyedLocks:
    """One asyncio lock per key (a campaign, a citizen): this replica never races itself on a document."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def __call__(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]


def _dm_range(campaign_id: str, after: str = "") -> dict[str, Any]:
    # '/' sorts right after '.', so [C.dm., C.dm/) is exactly campaign C's direct-message records.
    low = after or f"{campaign_id}.dm."
    return {"$gt": low, "$lt": f"{campaign_id}.dm/"}


class NewsStore:
    """Every read and write of the news service."""

    def __init__(self, db: AsyncDatabase, scan_timeout_s: float = 300.0) -> None:
        self.db = db
        self.scan_timeout_s = scan_timeout_s
        self.subscribers = db["subscribers"]
        self.suppressions = db["suppressions"]
        self.campaigns = db["campaigns"]
        self.fanout = db["fanout"]
        self.deliveries = db["deliveries"]
        self.leases = db["leases"]
        self.retry_hints = db["retry_hints"]

    def scanning(self) -> Any:
        """A per-operation deadline for queries a collection scan may answer (FerretDB answers most
        that way; the client's socket timeout is sized for point operations)."""
        return pymongo.timeout(self.scan_timeout_s)

    async def ensure_indexes(self) -> None:
        with self.scanning():
            await self._ensure_indexes()

    async def _ensure_indexes(self) -> None:
        await self.subscribers.create_index(
            [("following", ASCENDING), ("oa_id", ASCENDING), ("last_interaction_at", ASCENDING)], name="audience"
        )
        await self.subscribers.create_index([("ward_key", ASCENDING)], name="ward")
        await self.campaigns.create_index([("state", ASCENDING), ("send_at", ASCENDING)], name="state_send_at")
        await self.campaigns.create_index([("outbox_pending", ASCENDING)], name="outbox")
        await self.deliveries.create_index(
            [("campaign_id", ASCENDING), ("kind", ASCENDING), ("status", ASCENDING)], name="campaign_status"
        )
        await self.suppressions.create_index([("at", ASCENDING)], name="at")

    # --- subscribers ------------------------------------------------------------------------
    async def get_subscriber(self, key: str) -> Subscriber | None:
        doc = await self.subscribers.find_one({"_id": key})
        return subscriber_from_doc(doc) if doc else None

    async def save_subscriber(self, current: Subscriber | None, new: Subscriber, now: datetime) -> None:
        """Compare-and-set on `v`; a concurrent change raises RetryableError (the loop re-runs the handler)."""
        doc = subscriber_doc(new, now)
        doc.pop("last_interaction_at", None)  # owned by touch_interaction ($max), never overwritten here
        if current is None:
            try:
                await self.subscribers.insert_one({**doc, "v": 1})
            except DuplicateKeyError as exc:
                raise RetryableError("subscriber created concurrently") from exc
            return
        fields = {k: v for k, v in doc.items() if k not in ("_id", "v")}
        result = await self.subscribers.update_one({"_id": new.key, "v": current.v}, {"$set": fields, "$inc": {"v": 1}})
        if result.matched_count == 0:
            raise RetryableError("subscriber changed concurrently")

    async def touch_interaction(self, oa_id: str, user_id: str, at: datetime) -> None:
        """Last interaction = the latest of all inbound events (order-independent)."""
        key = f"{oa_id}:{user_id}"
        await self.subscribers.update_one(
            {"_id": key},
            {
                "$max": {"last_interaction_at": at},
                "$setOnInsert": {
                    "oa_id": oa_id,
                    "user_id": user_id,
                    "following": False,
                    "membership_ms": -1,
                    "opted_out": False,
                    "topics": [],
                    "muted_topics": [],
                    "ward": None,
                    "ward_key": None,
                    "v": 0,
                },
            },
            upsert=True,
        )

    async def insert_subscribers(self, docs: list[dict[str, Any]]) -> int:
        """Bulk load (benchmark, tests): existing ids are left alone."""
        inserted, _ = await _insert_ignoring_duplicates(self.subscribers, docs)
        return inserted

    async def count(self, query: dict[str, Any]) -> int:
        with self.scanning():
            return await self.subscribers.count_documents(query)

    async def any_match(self, query: dict[str, Any]) -> bool:
        with self.scanning():
            return await self.subscribers.find_one(query, {"_id": 1}) is not None

    async def stream_audience(self, query: dict[str, Any], batch: int) -> AsyncIterator[dict[str, Any]]:
        """The targeted followers, streamed (never all in memory)."""
        projection = {"_id": 1, "oa_id": 1, "user_id": 1, "last_interaction_at": 1}
        cursor = self.subscribers.find(query, projection).batch_size(batch)
        try:
            while True:
                with self.scanning():
                    try:
                        doc = await anext(cursor)
                    except StopAsyncIteration:
                        return
                yield doc
        finally:
            await cursor.close()

    # --- suppressions -----------------------------------------------------------------------
    async def suppress(self, key: str, reasons: Iterable[str], at: datetime) -> None:
        for reason in reasons:
            await self.suppressions.update_one(
                {"_id": f"{reason}:{key}"}, {"$set": {"key": key, "reason": reason, "at": at}}, upsert=True
            )

    async def release(self, key: str, reasons: Iterable[str]) -> None:
        for reason in reasons:
            await self.suppressions.delete_one({"_id": f"{reason}:{key}"})

    async def suppressed(self, keys: list[str]) -> dict[str, str]:
        """Citizen key → reason, for the keys with a marker (opt-out wins over unfollow)."""
        if not keys:
            return {}
        ids = [f"{r}:{k}" for k in keys for r in ("unfollowed", "opted_out")]
        out: dict[str, str] = {}
        async for d in self.suppressions.find({"_id": {"$in": ids}}):
            if out.get(d["key"]) != "opted_out":
                out[d["key"]] = d["reason"]
        return out

    async def purge_suppressions(self, before: datetime) -> int:
        with self.scanning():
            result = await self.suppressions.delete_many({"at": {"$lt": before}})
        return result.deleted_count

    # --- campaigns --------------------------------------------------------------------------
    async def insert_campaign(self, doc: dict[str, Any]) -> bool:
        """False when a campaign with this id exists (an idempotent create that was retried)."""
        try:
            await self.campaigns.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_campaign(self, campaign_id: str) -> dict[str, Any] | None:
        return await self.campaigns.find_one({"_id": campaign_id})

    async def list_campaigns(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        query = {"state": state} if state else {}
        cursor = self.campaigns.find(query, {"outbox": 0}).sort("created_at", DESCENDING).limit(limit)
        return await cursor.to_list()

    async def update_campaign(
        self, campaign_id: str, condition: dict[str, Any], update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Atomic conditional update of one campaign; the document after, or None if the condition failed."""
        return await self.campaigns.find_one_and_update(
            {"_id": campaign_id, **condition}, update, return_document=ReturnDocument.AFTER
        )

    async def campaigns_to_run(self, now: datetime) -> list[dict[str, Any]]:
        query = {
            "$or": [
                {"state": "running"},
                {"state": "approved", "send_at": None},
                {"state": "approved", "send_at": {"$lte": now}},
            ]
        }
        return await self.campaigns.find(query, {"outbox": 0}).to_list()

    async def oldest_running_plan(self) -> datetime | None:
        ids = [
            d["_id"] for d in await self.campaigns.find({"state": {"$in": ["running", "paused"]}}, {"_id": 1}).to_list()
        ]
        if not ids:
            return None
        docs = await self.fanout.find({"_id": {"$in": ids}}, {"plan": 1}).to_list()
        starts = [d["plan"]["started_at"] for d in docs if (d.get("plan") or {}).get("started_at")]
        return min(starts) if starts else None

    # --- the runner's bookkeeping -----------------------------------------------------------
    async def get_fanout(self, campaign_id: str) -> dict[str, Any]:
        return await self.fanout.find_one({"_id": campaign_id}) or {"_id": campaign_id}

    async def update_fanout(
        self, campaign_id: str, update: dict[str, Any], condition: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Update the runner's document (created on first use); None if `condition` failed."""
        return await self.fanout.find_one_and_update(
            {"_id": campaign_id, **(condition or {})},
            update,
            upsert=condition is None,
            return_document=ReturnDocument.AFTER,
        )

    async def lease_owner(self, name: str) -> str | None:
        doc = await self.leases.find_one({"_id": name})
        return doc.get("owner") if doc else None

    async def finished_campaigns(self, limit: int) -> list[dict[str, Any]]:
        cursor = self.campaigns.find({"state": "finished"}, {"outbox": 0}).sort("finished_at", DESCENDING)
        return await cursor.limit(limit).to_list()

    async def outbox_pending(self) -> list[dict[str, Any]]:
        return await self.campaigns.find({"outbox_pending": True}, {"outbox": 1, "outbox_published": 1}).to_list()

    async def outbox_published(self, campaign_id: str, before: int, after: int) -> None:
        await self.campaigns.update_one(
            {"_id": campaign_id, "outbox_published": before}, {"$set": {"outbox_published": after}}
        )
        # Clear the flag only if nothing was appended meanwhile (the size check fails otherwise).
        await self.campaigns.update_one(
            {"_id": campaign_id, "outbox_published": after, "outbox": {"$size": after}},
            {"$set": {"outbox_pending": False}},
        )

    # --- deliveries -------------------------------------------------------------------------
    async def insert_deliveries(self, docs: list[dict[str, Any]]) -> tuple[int, list[str]]:
        """Write records; (inserted, ids that already existed)."""
        return await _insert_ignoring_duplicates(self.deliveries, docs)

    async def get_delivery(self, delivery_id: str) -> dict[str, Any] | None:
        with self.scanning():
            return await self.deliveries.find_one({"_id": delivery_id})

    def stream_dm(self, campaign_id: str, after: str, batch: int) -> AsyncIterator[dict[str, Any]]:
        """The campaign's direct-message records after the cursor, in key order."""
        return self.deliveries.find({"_id": _dm_range(campaign_id, after)}).sort("_id", ASCENDING).batch_size(batch)

    async def count_dm(self, campaign_id: str) -> int:
        with self.scanning():
            return await self.deliveries.count_documents({"_id": _dm_range(campaign_id)})

    async def mark_skipped(
        self, delivery_id: str, reason: str, stage: str, now: datetime, from_status: str = "pending"
    ) -> None:
        with self.scanning():
            await self.deliveries.update_one(
                {"_id": delivery_id, "status": from_status},
                {"$set": {"status": "skipped", "reason": reason, "stage": stage, "updated_at": now}},
            )

    async def apply_outcome(self, delivery_id: str, command_id: str, fields: dict[str, Any]) -> bool:
        """Record the outcome of the delivery's current attempt (outcomes of older attempts are ignored)."""
        with self.scanning():
            result = await self.deliveries.update_one(
                {"_id": delivery_id, "command_id": command_id, "status": {"$in": ["pending", "requeued"]}},
                {"$set": fields},
            )
        return result.modified_count == 1

    async def due_retries(self, campaign_id: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        query = {"campaign_id": campaign_id, "status": "retry", "retry_at": {"$lte": now}}
        with self.scanning():
            return await self.deliveries.find(query).limit(limit).to_list()

    async def next_retry_at(self, campaign_id: str) -> datetime | None:
        with self.scanning():
            docs = (
                await self.deliveries.find({"campaign_id": campaign_id, "status": "retry"}, {"retry_at": 1})
                .sort("retry_at", ASCENDING)
                .limit(1)
                .to_list()
            )
        return docs[0]["retry_at"] if docs else None

    async def requeued(self, campaign_id: str, limit: int) -> list[dict[str, Any]]:
        with self.scanning():
            return await self.deliveries.find({"campaign_id": campaign_id, "status": "requeued"}).limit(limit).to_list()

    async def requeue(self, delivery_id: str, attempt: int, command_id: str, now: datetime) -> bool:
        """Record the next attempt before its command is produced."""
        result = await self.deliveries.update_one(
            {"_id": delivery_id, "status": "retry", "attempt": attempt - 1},
            {"$set": {"status": "requeued", "attempt": attempt, "command_id": command_id, "updated_at": now}},
        )
        return result.modified_count == 1

    async def requeue_produced(self, delivery_id: str, command_id: str) -> None:
        await self.deliveries.update_one(
            {"_id": delivery_id, "status": "requeued", "command_id": command_id}, {"$set": {"status": "pending"}}
        )

    async def hint_retry(self, campaign_id: str, at: datetime) -> None:
        """Tell the runner a retry is due at `at` (it then sweeps, instead of scanning on a timer)."""
        await self.retry_hints.update_one({"_id": campaign_id}, {"$min": {"at": at}}, upsert=True)

    async def take_retry_hint(self, campaign_id: str, now: datetime) -> bool:
        """True (and the hint is consumed) when a retry hint is due."""
        hint = await self.retry_hints.find_one({"_id": campaign_id})
        if hint is None or hint["at"] > now:
            return False
        await self.retry_hints.delete_one({"_id": campaign_id, "at": hint["at"]})
        return True

    async def outstanding(self, campaign_id: str) -> int:
        """Records still waiting for an outcome or a retry."""
        with self.scanning():
            return await self.deliveries.count_documents(
                {"campaign_id": campaign_id, "status": {"$in": ["pending", "requeued", "retry"]}}
            )

    async def counts(self, campaign_id: str) -> list[CountRow]:
        pipeline = [
            {"$match": {"campaign_id": campaign_id}},
            {
                "$group": {
                    "_id": {
                        "kind": "$kind",
                        "status": "$status",
                        "reason": "$reason",
                        "code": "$zalo_error",
                        "stage": "$stage",
                    },
                    "n": {"$sum": 1},
                }
            },
        ]
        with self.scanning():
            rows = await (await self.deliveries.aggregate(pipeline)).to_list()
        return [
            CountRow(
                kind=r["_id"].get("kind"),
                status=r["_id"].get("status"),
                reason=r["_id"].get("reason"),
                code=r["_id"].get("code"),
                stage=r["_id"].get("stage"),
                n=int(r["n"]),
            )
            for r in rows
        ]

    # --- leases -----------------------------------------------------------------------------
    async def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew a lease; False while another owner holds it."""
        try:
            doc = await self.leases.find_one_and_update(
                {"_id": name, "$or": [{"owner": owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": owner, "until": now + ttl, "renewed_at": now}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return doc is not None and doc.get("owner") == owner

    async def release_lease(self, name: str, owner: str) -> None:
        await self.leases.update_one(
            {"_id": name, "owner": owner}, {"$set": {"until": datetime(1970, 1, 1, tzinfo=UTC)}}
        )


async def _insert_ignoring_duplicates(collection: Any, docs: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """insert_many(ordered=False): a duplicate key means "already written" (idempotent writes)."""
    if not docs:
        return 0, []
    try:
        result = await collection.insert_many(docs, ordered=False)
        return len(result.inserted_ids), []
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        others = [e for e in errors if e.get("code") != 11000]
        if others:
            raise
        dups = [docs[e["index"]]["_id"] for e in errors]
        return int(exc.details.get("nInserted", len(docs) - len(dups))), dups
