"""MongoDB adapter of the reports service.

Written for what FerretDB 1.24 (SQLite backend) really guarantees, measured on the local stack:
- an update is read-modify-write of the whole document without a lock: concurrent `findAndModify
  $inc` on one counter returned duplicates, and 50 concurrent `$inc` left the counter at 3;
- only inserts (unique `_id`) and deletes (by `_id`) are atomic;
- no filter uses an index (not even `_id`: the plan is a table scan), so every query costs the size
  of its collection.

Hence every decision that must be taken once is an insert of a document with a deterministic
`_id` (a claim): a case code (`case_codes/<code>`), a case version (`case_changes/<case>:<version>`),
a notice step (`notice_steps/<notice>:<step>`), an attachment attempt, a handoff release. Mutable
documents (`cases.current`, `notices.current`, citizen hints) only cache the newest claim and
converge: a writer re-reads after writing and rewrites if a newer claim appeared. Collections that
are scanned (`outbox`, `open_notices`, `attachment_queue`, `handoffs_open`) hold only live items.
On MongoDB the same code is simply correct and fast (with the indexes created below).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]

VERSION_WIDTH = 10
STEP_WIDTH = 4
ITEM_WIDTH = 6
AFTER = ReturnDocument.AFTER


def ms(at: datetime) -> datetime:
    """A time as MongoDB keeps it (milliseconds), so that what we hold equals what we read back."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def change_id_of(case_id: str, version: int) -> str:
    return f"{case_id}:{version:0{VERSION_WIDTH}d}"


def step_id_of(notice_id: str, step: int) -> str:
    return f"{notice_id}:{step:0{STEP_WIDTH}d}"


@dataclass(frozen=True)
class CaseView:
    """A case document as the service reads it: intake facts plus the newest version's state."""

    doc: Doc

    @property
    def id(self) -> str:
        return self.doc["_id"]

    @property
    def code(self) -> str:
        return self.doc["code"]

    @property
    def oa_id(self) -> str:
        return self.doc["oa_id"]

    @property
    def citizen(self) -> str:
        return self.doc["citizen"]

    @property
    def version(self) -> int:
        return int(self.doc["version"])

    @property
    def current(self) -> Doc:
        return self.doc["current"]

    @property
    def status(self) -> str:
        return self.current["status"]

    @property
    def unit(self) -> str:
        return self.current["unit"]

    @property
    def assignee(self) -> str | None:
        return self.current.get("assignee")

    @property
    def created_at(self) -> datetime:
        return self.doc["created_at"]

    def __getitem__(self, key: str) -> Any:
        return self.doc[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.doc.get(key, default)


class Store:
    """Every read and write of the service's own database."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.cases = db["cases"]
        self.case_changes = db["case_changes"]
        self.summaries = db["case_summaries"]
        self.case_codes = db["case_codes"]
        self.counters = db["counters"]
        self.outbox = db["outbox"]
        self.citizens = db["citizens"]
        self.citizen_items = db["citizen_items"]
        self.app_users = db["app_users"]
        self.notices = db["notices"]
        self.notice_steps = db["notice_steps"]
        self.open_notices = db["open_notices"]
        self.attachments = db["attachments"]
        self.attachment_queue = db["attachment_queue"]
        self.attachment_leases = db["attachment_leases"]
        self.blobs = db["attachment_blobs"]
        self.chunks = db["attachment_chunks"]
        self.audit_log = db["audit"]
        self.handoffs = db["handoffs"]
        self.handoffs_open = db["handoffs_open"]
        self.handoff_releases = db["handoff_releases"]

    async def ensure_indexes(self) -> None:
        """Indexes for MongoDB (FerretDB 1.24 creates them but its SQLite backend does not use them)."""
        await self.cases.create_index([("code", ASCENDING)], unique=True, name="code")
        await self.cases.create_index([("submission_id", ASCENDING)], unique=True, name="submission")
        await self.cases.create_index(
            [("current.unit", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="unit_created"
        )
        await self.audit_log.create_index([("at", DESCENDING)], name="at")
        await self.audit_log.create_index([("case_id", ASCENDING), ("at", DESCENDING)], name="case_at")

    # --- generic claims ----------------------------------------------------------------------------------

    @staticmethod
    async def _claim(collection: Any, doc: Doc) -> bool:
        """Insert `doc`; False when its `_id` is taken (somebody else made that decision)."""
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    @staticmethod
    async def _upsert(collection: Any, key: str, update: Doc, *, returning: bool = False) -> Doc | None:
        """Apply `update` to the document `key`, inserting it if absent. Two concurrent upserts may both try
        the insert: the loser's duplicate-key error means the document exists now, so the update is applied
        to it (without `$setOnInsert`). With `returning`, the document as written."""

        async def write(upd: Doc, upsert: bool) -> Doc | None:
            if returning:
                return await collection.find_one_and_update({"_id": key}, upd, upsert=upsert, return_document=AFTER)
            await collection.update_one({"_id": key}, upd, upsert=upsert)
            return None

        try:
            return await write(update, True)
        except DuplicateKeyError:
            return await write({op: v for op, v in update.items() if op != "$setOnInsert"}, False)

    # --- case codes ----------------------------------------------------------------------------------------

    async def claim_code(self, counter_id: str, make_code: Any, case_id: str) -> tuple[str, int]:
        """The next free code of a counter (OA and year), claimed for `case_id`.

        The counter document is only a hint of the last serial: the claim is the insert of
        `case_codes/<code>`, so concurrent intakes never share a code and serials stay contiguous.
        """
        hint = await self.counters.find_one({"_id": counter_id})
        seq = int(hint["seq"]) if hint else 0
        while True:
            seq += 1
            code = make_code(seq)
            if await self._claim(self.case_codes, {"_id": code, "case_id": case_id, "counter": counter_id}):
                break
            taken = await self.case_codes.find_one({"_id": code})
            if taken is not None and taken.get("case_id") == case_id:
                break  # our own claim from an earlier attempt
        await self._raise_counter(counter_id, seq)
        return code, seq

    async def _raise_counter(self, counter_id: str, seq: int) -> None:
        await self._upsert(self.counters, counter_id, {"$max": {"seq": seq}})

    async def case_id_for_code(self, code: str) -> str | None:
        doc = await self.case_codes.find_one({"_id": code})
        return doc["case_id"] if doc else None

    # --- cases ------------------------------------------------------------------------------------------------

    async def insert_case(self, doc: Doc, first_change: Doc) -> bool:
        """Store a new case and its version 1; False when the submission already has its case."""
        await self._claim(self.case_changes, first_change)
        return await self._claim(self.cases, doc)

    async def get_case(self, case_id: str) -> Doc | None:
        """The case with `current` and `version` of the newest claimed version (read only)."""
        doc = await self.cases.find_one({"_id": case_id})
        if doc is None:
            return None
        newest = await self._newest_change(case_id, int(doc["version"]))
        if newest is not None:
            doc["version"], doc["current"] = newest["version"], newest["snapshot"]
        return doc

    async def _newest_change(self, case_id: str, known: int) -> Doc | None:
        newest = None
        version = known
        while True:
            nxt = await self.case_changes.find_one({"_id": change_id_of(case_id, version + 1)})
            if nxt is None:
                return newest
            newest, version = nxt, version + 1

    async def claim_change(self, change: Doc) -> bool:
        """Claim version `change.version` of a case (the optimistic-concurrency decision)."""
        return await self._claim(self.case_changes, change)

    async def get_change(self, case_id: str, version: int) -> Doc | None:
        return await self.case_changes.find_one({"_id": change_id_of(case_id, version)})

    async def changes_of(self, case_id: str, upto: int) -> list[Doc]:
        out = []
        for version in range(1, upto + 1):
            change = await self.get_change(case_id, version)
            if change is not None:
                out.append(change)
        return out

    async def refresh_case(self, case_id: str) -> Doc | None:
        """Make `cases.current` the newest claimed version; converges under concurrent writers."""
        for _ in range(50):
            doc = await self.cases.find_one({"_id": case_id})
            if doc is None:
                return None
            newest = await self._newest_change(case_id, int(doc["version"]))
            if newest is None:
                return doc
            await self.cases.update_one(
                {"_id": case_id},
                {"$set": {"version": newest["version"], "current": newest["snapshot"]}},
            )
        raise RuntimeError("case head did not converge")

    async def scan_cases(self, projection: Mapping[str, Any] | None = None) -> AsyncIterator[Doc]:
        async for doc in self.cases.find({}, projection):
            yield doc

    async def put_summary(self, case_id: str, version: int, text: str) -> None:
        await self.summaries.replace_one({"_id": case_id}, {"_id": case_id, "v": version, "s": text}, upsert=True)

    async def scan_summaries(self) -> AsyncIterator[Doc]:
        async for doc in self.summaries.find({}).batch_size(2000):
            yield doc

    # --- outbox of officer changes -----------------------------------------------------------------------

    async def put_outbox(self, entry: Doc) -> None:
        await self._claim(self.outbox, entry)

    async def delete_outbox(self, entry_id: str) -> None:
        await self.outbox.delete_one({"_id": entry_id})

    async def outbox_entries(self) -> list[Doc]:
        return await self.outbox.find({}).to_list()

    # --- citizens ----------------------------------------------------------------------------------------------

    async def touch_citizen(
        self, citizen: str, oa_id: str, at: datetime, app_user: str | None = None, hints: dict[str, int] | None = None
    ) -> Doc:
        """Record an interaction (the newest wins; a lost concurrent update only makes it look older),
        and raise list hints (`cases_n`, `notices_n`) in the same write. Returns the citizen as written."""
        update: Doc = {"$max": {"last_inbound_at": ms(at), **(hints or {})}, "$setOnInsert": {"oa_id": oa_id}}
        if app_user is not None:
            update["$set"] = {"app_user": app_user}
        doc = await self._upsert(self.citizens, citizen, update, returning=True)
        return doc or {"_id": citizen, "oa_id": oa_id}

    async def get_citizen(self, citizen: str) -> Doc | None:
        return await self.citizens.find_one({"_id": citizen})

    async def link_app_user(self, app_user: str, citizen: str) -> list[str]:
        """Remember that `citizen` (one OA) is the same person as `app_user` (every event re-asserts it);
        returns every citizen linked to that person, in one round trip."""
        doc = await self._upsert(self.app_users, app_user, {"$addToSet": {"citizens": citizen}}, returning=True)
        return list(doc.get("citizens", [])) if doc else [citizen]

    async def add_citizen_item(
        self, citizen: str, kind: str, item_id: str, *, hint: int | None = None, raise_hint: bool = True
    ) -> int:
        """Append a case or notice id to the citizen's list (insert claims; no holes, duplicates tolerated).

        Returns the position. `hint` is the citizen's `<kind>_n` when the caller has read it already;
        with `raise_hint=False` the caller raises the hint itself (in one write with other changes).
        """
        hint_field = f"{kind}_n"
        if hint is None:
            doc = await self.citizens.find_one({"_id": citizen})
            hint = int(doc.get(hint_field, 0)) if doc else 0
        n = hint
        while True:
            n += 1
            item = {"_id": f"{citizen}:{kind}:{n:0{ITEM_WIDTH}d}", "item": item_id}
            if await self._claim(self.citizen_items, item):
                break
            taken = await self.citizen_items.find_one({"_id": item["_id"]})
            if taken is not None and taken.get("item") == item_id:
                break
        if raise_hint:
            await self._upsert(self.citizens, citizen, {"$max": {hint_field: n}})
        return n

    async def citizen_items_of(self, citizen: str, kind: str, start: int = 1) -> list[tuple[int, str]]:
        """(position, id) of the citizen's items from `start` on, in order, without duplicates."""
        out: list[tuple[int, str]] = []
        seen: set[str] = set()
        n = max(1, start)
        while True:
            doc = await self.citizen_items.find_one({"_id": f"{citizen}:{kind}:{n:0{ITEM_WIDTH}d}"})
            if doc is None:
                return out
            if doc["item"] not in seen:
                seen.add(doc["item"])
                out.append((n, doc["item"]))
            n += 1

    async def raise_citizen_hint(self, citizen: str, field: str, value: int) -> None:
        await self.citizens.update_one({"_id": citizen}, {"$max": {field: value}})

    # --- notices ----------------------------------------------------------------------------------------------

    async def insert_notice(self, head: Doc) -> bool:
        """Store a new notice with its first step; False when it exists (a redelivery)."""
        return await self._claim(self.notices, head)

    async def get_notice(self, notice_id: str) -> Doc | None:
        return await self.notices.find_one({"_id": notice_id})

    async def claim_notice_step(self, step: Doc) -> bool:
        return await self._claim(self.notice_steps, step)

    async def get_notice_step(self, notice_id: str, step: int) -> Doc | None:
        return await self.notice_steps.find_one({"_id": step_id_of(notice_id, step)})

    async def newest_notice_step(self, notice_id: str, known: int) -> Doc | None:
        newest = None
        step = known
        while True:
            nxt = await self.get_notice_step(notice_id, step + 1)
            if nxt is None:
                return newest
            newest, step = nxt, step + 1

    async def refresh_notice(self, notice_id: str) -> Doc | None:
        """Make `notices.current` the newest claimed step; converges under concurrent writers."""
        for _ in range(50):
            head = await self.get_notice(notice_id)
            if head is None:
                return None
            newest = await self.newest_notice_step(notice_id, int(head["step"]))
            if newest is None:
                return head
            await self.notices.update_one(
                {"_id": notice_id}, {"$set": {"step": newest["step"], "current": newest["state"]}}
            )
        raise RuntimeError("notice head did not converge")

    async def mark_notice_open(self, notice_id: str, unit: str, case_id: str, at: datetime) -> None:
        await self._claim(self.open_notices, {"_id": notice_id, "unit": unit, "case_id": case_id, "since": ms(at)})

    async def mark_notice_closed(self, notice_id: str) -> None:
        await self.open_notices.delete_one({"_id": notice_id})

    async def notice_heads(self, notice_ids: list[str]) -> list[Doc]:
        """Several notice heads in one pass (FerretDB scans once instead of once per id)."""
        if not notice_ids:
            return []
        return await self.notices.find({"_id": {"$in": notice_ids}}).to_list()

    async def open_notice_ids(self) -> list[str]:
        return [d["_id"] for d in await self.open_notices.find({}, {"_id": 1}).to_list()]

    # --- attachments ----------------------------------------------------------------------------------------

    async def add_attachment(self, doc: Doc, due_at: datetime) -> None:
        """Register an attachment and queue its download (queue first: a crash leaves it queued)."""
        existing = await self.attachments.find_one({"_id": doc["_id"]})
        if existing is not None and existing.get("state") != "pending":
            return
        await self._claim(self.attachment_queue, {"_id": doc["_id"], "due_at": ms(due_at), "attempt": 0})
        await self._claim(self.attachments, doc)

    async def get_attachment(self, attachment_id: str) -> Doc | None:
        return await self.attachments.find_one({"_id": attachment_id})

    async def due_attachments(self, now: datetime, limit: int) -> list[Doc]:
        return await self.attachment_queue.find({"due_at": {"$lte": now}}).limit(limit).to_list()

    async def lease_attachment(self, attachment_id: str, attempt: int, now: datetime) -> bool:
        """Only one worker (of all replicas) makes attempt `attempt` of one download."""
        return await self._claim(self.attachment_leases, {"_id": f"{attachment_id}:{attempt:03d}", "at": ms(now)})

    async def reschedule_attachment(self, attachment_id: str, attempt: int, due_at: datetime, error: str) -> None:
        await self.attachment_queue.update_one(
            {"_id": attachment_id}, {"$set": {"attempt": attempt, "due_at": ms(due_at)}}
        )
        await self.attachments.update_one({"_id": attachment_id}, {"$set": {"attempts": attempt, "last_error": error}})

    async def finish_attachment(self, attachment_id: str, fields: Doc) -> None:
        await self.attachments.update_one({"_id": attachment_id}, {"$set": fields})
        await self.attachment_queue.delete_one({"_id": attachment_id})

    async def queued_attachment_count(self) -> int:
        return await self.attachment_queue.count_documents({})

    async def store_blob(self, sha256: str, data: bytes, content_type: str, chunk_bytes: int, at: datetime) -> None:
        """Content-addressed: chunks first (upserts by deterministic id), the blob record last."""
        if await self.blobs.find_one({"_id": sha256}) is not None:
            return
        count = 0
        for n, offset in enumerate(range(0, len(data), chunk_bytes)):
            chunk = {
                "_id": f"{sha256}:{n:06d}",
                "sha256": sha256,
                "n": n,
                "data": Binary(data[offset : offset + chunk_bytes]),
            }
            await self.chunks.replace_one({"_id": chunk["_id"]}, chunk, upsert=True)
            count += 1
        await self.blobs.replace_one(
            {"_id": sha256},
            {
                "_id": sha256,
                "size": len(data),
                "content_type": content_type,
                "chunk_bytes": chunk_bytes,
                "chunks": count,
                "stored_at": ms(at),
            },
            upsert=True,
        )

    async def get_blob(self, sha256: str) -> Doc | None:
        return await self.blobs.find_one({"_id": sha256})

    async def blob_chunks(self, blob: Doc) -> AsyncIterator[bytes]:
        for n in range(int(blob["chunks"])):
            chunk = await self.chunks.find_one({"_id": f"{blob['_id']}:{n:06d}"})
            if chunk is None:
                raise RuntimeError("attachment chunk missing")
            yield bytes(chunk["data"])

    # --- audit ----------------------------------------------------------------------------------------------

    async def audit(self, entry: Doc) -> None:
        """Append one entry (insert only; the service never updates or deletes the audit log)."""
        await self._claim(self.audit_log, entry)

    async def audit_entries(self, query: Doc, limit: int, before: tuple[datetime, str] | None) -> list[Doc]:
        if before is not None:
            at, entry_id = before
            query = {**query, "$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": entry_id}}]}
        return await self.audit_log.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit).to_list()

    # --- handoffs ----------------------------------------------------------------------------------------------

    async def add_handoff(self, doc: Doc) -> None:
        await self._claim(self.handoffs_open, {"_id": doc["_id"], "citizen": doc["citizen"], "unit": doc["unit"]})
        await self._claim(self.handoffs, doc)

    async def get_handoff(self, handoff_id: str) -> Doc | None:
        return await self.handoffs.find_one({"_id": handoff_id})

    async def open_handoffs(self) -> list[Doc]:
        return await self.handoffs_open.find({}).to_list()

    async def claim_handoff_release(self, handoff_id: str, by: str, at: datetime) -> bool:
        return await self._claim(self.handoff_releases, {"_id": handoff_id, "by": by, "at": ms(at)})

    async def get_handoff_release(self, handoff_id: str) -> Doc | None:
        return await self.handoff_releases.find_one({"_id": handoff_id})

    async def close_handoff(self, handoff_id: str) -> None:
        await self.handoffs_open.delete_one({"_id": handoff_id})
