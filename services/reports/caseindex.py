"""The in-memory list index of cases (a read model), and the feed that keeps it current.

Why in memory: FerretDB 1.24's SQLite backend filters and sorts every query in Go after a full table
scan (measured: 4–8 s for a filtered, sorted page over 100,000 cases), so the officer list cannot be a
MongoDB query if it is to answer within 100 ms. Each replica loads the case summaries once at start
and then follows `reports.lifecycle.v1` (every change publishes there, also the changes other replicas
make), re-reading a changed case by id. A replica applies its own changes at once (read-your-writes);
other replicas see them within the lifecycle topic's latency. The case detail always reads MongoDB.

Ordering is by (created_at, case id), newest first, or urgent cases first; the opaque cursor carries
the last (created_at, id) and the phase of the urgent-first order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from bisect import bisect_left, bisect_right, insort
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from contracts import CaseLifecycle
from contracts.topics import REPORTS_LIFECYCLE
from servicekit.text import fold
from services.reports.domain import FINAL_STATUSES, Cursor, ListOrder
from services.reports.settings import ReportsSettings
from services.reports.store import Store

log = logging.getLogger("reports.caseindex")

Key = tuple[float, str]
_TOP = "\U0010ffff"
EXCERPT_CHARS = 160


@dataclass(slots=True)
class CaseSummary:
    """What the list shows and filters on."""

    id: str
    code: str
    oa_key: str
    kind: str
    category: str
    priority: str
    status: str
    unit: str
    ward: str | None
    ward_folded: str
    source: str
    created_at: datetime
    created_ts: float
    updated_at: datetime
    assignee: str | None
    version: int
    excerpt: str
    folded: str
    attachments: int

    @property
    def key(self) -> Key:
        return (self.created_ts, self.id)


def summary_from_doc(doc: dict[str, Any]) -> CaseSummary:
    current = doc["current"]
    description = doc.get("description") or ""
    searchable = " ".join((description, doc.get("place_text") or "", doc["code"]))
    return CaseSummary(
        id=doc["_id"],
        code=doc["code"],
        oa_key=doc["oa_key"],
        kind=doc["kind"],
        category=doc["category"],
        priority=doc["priority"],
        status=current["status"],
        unit=current["unit"],
        ward=doc.get("ward"),
        ward_folded=fold(doc.get("ward") or ""),
        source=doc.get("source", "form"),
        created_at=doc["created_at"],
        created_ts=doc["created_at"].timestamp(),
        updated_at=current["updated_at"],
        assignee=current.get("assignee"),
        version=int(doc["version"]),
        excerpt=description[:EXCERPT_CHARS],
        folded=fold(searchable),
        attachments=len(doc.get("attachments") or []),
    )


def encode_summary(s: CaseSummary) -> str:
    """The summary as one JSON string: FerretDB scans a one-string document ~10 times faster than the case."""
    return json.dumps(
        [
            s.code,
            s.oa_key,
            s.kind,
            s.category,
            s.priority,
            s.status,
            s.unit,
            s.ward,
            s.source,
            s.created_at.isoformat(),
            s.updated_at.isoformat(),
            s.assignee,
            s.version,
            s.excerpt,
            s.folded,
            s.attachments,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_summary(case_id: str, text: str) -> CaseSummary:
    (code, oa_key, kind, category, priority, status, unit, ward, source, created, updated, assignee, version, excerpt,
     folded, attachments) = json.loads(text)  # fmt: skip
    created_at = datetime.fromisoformat(created)
    return CaseSummary(
        id=case_id,
        code=code,
        oa_key=oa_key,
        kind=kind,
        category=category,
        priority=priority,
        status=status,
        unit=unit,
        ward=ward,
        ward_folded=fold(ward or ""),
        source=source,
        created_at=created_at,
        created_ts=created_at.timestamp(),
        updated_at=datetime.fromisoformat(updated),
        assignee=assignee,
        version=int(version),
        excerpt=excerpt,
        folded=folded,
        attachments=int(attachments),
    )


@dataclass(frozen=True)
class ListFilter:
    """Officer list filters; None means "any". `units` is always set for an officer (their own unit)."""

    statuses: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    units: frozenset[str] | None = None
    wards: frozenset[str] | None = None  # folded
    priority: str | None = None
    created_from: float | None = None
    created_to: float | None = None
    terms: tuple[str, ...] = ()  # folded words, all must occur
    assignee: str | None = None

    def predicate(self) -> Callable[[CaseSummary], bool]:
        checks: list[Callable[[CaseSummary], bool]] = []
        if self.statuses is not None:
            statuses = self.statuses
            checks.append(lambda s: s.status in statuses)
        if self.kinds is not None:
            kinds = self.kinds
            checks.append(lambda s: s.kind in kinds)
        if self.units is not None:
            units = self.units
            checks.append(lambda s: s.unit in units)
        if self.wards is not None:
            wards = self.wards
            checks.append(lambda s: s.ward_folded in wards)
        if self.priority is not None:
            priority = self.priority
            checks.append(lambda s: s.priority == priority)
        if self.assignee is not None:
            assignee = self.assignee
            checks.append(lambda s: s.assignee == assignee)
        if self.terms:
            terms = self.terms
            checks.append(lambda s: all(t in s.folded for t in terms))
        return lambda s: all(c(s) for c in checks)


@dataclass(frozen=True)
class IndexStats:
    by_kind_unit_status: dict[tuple[str, str, str], int]
    open_urgent: int
    urgent_unacknowledged: int
    oldest_urgent_received_s: float


class CaseIndex:
    """Case summaries ordered by (created_at, id); one list per unit and one of urgent cases."""

    def __init__(self) -> None:
        self._by_id: dict[str, CaseSummary] = {}
        self._keys: list[Key] = []
        self._unit_keys: dict[str, list[Key]] = {}
        self._urgent_keys: list[Key] = []
        self.loaded = asyncio.Event()

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, case_id: str) -> CaseSummary | None:
        return self._by_id.get(case_id)

    def version_of(self, case_id: str) -> int:
        s = self._by_id.get(case_id)
        return s.version if s is not None else 0

    def apply(self, summary: CaseSummary) -> bool:
        """Insert or replace a summary; older versions never replace newer ones."""
        old = self._by_id.get(summary.id)
        if old is not None and old.version >= summary.version:
            return False
        self._by_id[summary.id] = summary
        key = summary.key
        if old is None:
            insort(self._keys, key)
            if summary.priority == "urgent":
                insort(self._urgent_keys, key)
        if old is None or old.unit != summary.unit:
            if old is not None:
                _remove(self._unit_keys.get(old.unit, []), old.key)
            insort(self._unit_keys.setdefault(summary.unit, []), key)
        return True

    def query(
        self, flt: ListFilter, order: ListOrder, cursor: Cursor | None, limit: int
    ) -> tuple[list[CaseSummary], Cursor | None]:
        """One page: up to `limit` summaries after `cursor`, and the cursor of the next page (or None)."""
        if cursor is not None and cursor.order != order:
            cursor = None
        match = flt.predicate()
        base = self._keys
        if flt.units is not None and len(flt.units) == 1:
            base = self._unit_keys.get(next(iter(flt.units)), [])
        out: list[CaseSummary] = []
        last_phase = 1
        phases: list[tuple[int, list[Key], Callable[[CaseSummary], bool]]]
        if order == "urgent_first" and flt.priority is None:
            phases = [(0, self._urgent_keys, match), (1, base, lambda s: s.priority != "urgent" and match(s))]
        else:
            phases = [(1, base, match)]
        for phase, keys, pred in phases:
            if cursor is not None and phase < cursor.phase:
                continue
            after = (cursor.created_ts, cursor.case_id) if cursor is not None and cursor.phase == phase else None
            for key in _descending(keys, after, flt.created_from, flt.created_to):
                s = self._by_id[key[1]]
                if not pred(s):
                    continue
                if len(out) == limit:
                    last = out[-1]
                    return out, Cursor(order, last_phase, last.created_ts, last.id)
                out.append(s)
                last_phase = phase
        return out, None

    def stats(self, now_ts: float, urgent_threshold_s: float) -> IndexStats:
        return compute_stats(list(self._by_id.values()), now_ts, urgent_threshold_s)

    async def stats_off_loop(self, now_ts: float, urgent_threshold_s: float) -> IndexStats:
        """The same, counted in a thread over a snapshot, so a large index does not hold up requests."""
        snapshot = list(self._by_id.values())
        return await asyncio.to_thread(compute_stats, snapshot, now_ts, urgent_threshold_s)


def compute_stats(summaries: list[CaseSummary], now_ts: float, urgent_threshold_s: float) -> IndexStats:
    tally: Tally[tuple[str, str, str]] = Tally()
    open_urgent = unacked = 0
    oldest = 0.0
    for s in summaries:
        tally[(s.kind, s.unit, s.status)] += 1
        if s.priority != "urgent":
            continue
        if s.status not in FINAL_STATUSES:
            open_urgent += 1
        if s.status == "received":
            age = now_ts - s.created_ts
            oldest = max(oldest, age)
            if age >= urgent_threshold_s:
                unacked += 1
    return IndexStats(dict(tally), open_urgent, unacked, oldest)


def _remove(keys: list[Key], key: Key) -> None:
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        del keys[i]


def _descending(keys: list[Key], after: Key | None, lo_ts: float | None, hi_ts: float | None) -> Iterator[Key]:
    """Keys newest first, strictly older than `after`, within [lo_ts, hi_ts]."""
    hi = len(keys) if hi_ts is None else bisect_right(keys, (hi_ts, _TOP))
    if after is not None:
        hi = min(hi, bisect_left(keys, after))
    for i in range(hi - 1, -1, -1):
        key = keys[i]
        if lo_ts is not None and key[0] < lo_ts:
            return
        yield key


async def save_summary(store: Store, doc: dict[str, Any]) -> CaseSummary:
    """Persist the list summary of a case (`case_summaries`), converging on the newest version.

    On FerretDB concurrent writers may overwrite each other's summary; each writer re-reads the case after
    writing and writes again if a newer version appeared, so the last writer leaves the newest summary.
    """
    for _ in range(20):
        summary = summary_from_doc(doc)
        await store.put_summary(summary.id, summary.version, encode_summary(summary))
        latest = await store.get_case(summary.id)
        if latest is None or int(latest["version"]) <= summary.version:
            return summary
        doc = latest
    return summary_from_doc(doc)


class CaseFeed:
    """Loads the index from the stored summaries, then follows reports.lifecycle.v1 (no consumer group: every replica
    reads every change). Positions are taken before the load, so no change between load and tail is missed."""

    def __init__(self, settings: ReportsSettings, store: Store, index: CaseIndex) -> None:
        self.settings = settings
        self.store = store
        self.index = index
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reports:case-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        await self._subscribe()
        await self._load()
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=500)
            except Exception as exc:  # broker away: aiokafka reconnects by itself
                log.warning("lifecycle fetch failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)
                continue
            for records in batches.values():
                for rec in records:
                    await self._apply_record(rec.value)

    async def _subscribe(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            consumer = AIOKafkaConsumer(
                **self.settings.kafka(),
                group_id=None,
                enable_auto_commit=False,
                client_id=f"{self.settings.service_name}-case-feed",
            )
            try:
                await consumer.start()
                # Without a group, subscribe() assigns every partition of the topic to this replica.
                consumer.subscribe([self.settings.topic(REPORTS_LIFECYCLE)])
                for _ in range(100):
                    if consumer.assignment():
                        break
                    await asyncio.sleep(0.05)
                tps = sorted(consumer.assignment())
                if not tps:
                    raise RuntimeError("no lifecycle partitions assigned yet")
                ends = await consumer.end_offsets(tps)
                for tp in tps:
                    consumer.seek(tp, ends[tp])
                self._consumer = consumer
                return
            except Exception as exc:
                await consumer.stop()
                log.warning("case feed cannot subscribe yet", extra={"error": type(exc).__name__, "attempt": attempt})
                await asyncio.sleep(min(5.0, 0.5 * attempt))

    async def _load(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                async for record in self.store.scan_summaries():
                    self.index.apply(decode_summary(record["_id"], record["s"]))
                break
            except Exception as exc:
                log.warning("case index load failed, retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(min(5.0, 0.5 * attempt))
        self.index.loaded.set()
        log.info("case index loaded", extra={"cases": len(self.index)})

    async def _apply_record(self, value: bytes | None) -> None:
        try:
            event = CaseLifecycle.model_validate_json(value or b"")
        except ValueError:
            return
        if self.index.version_of(event.case_id) >= event.version:
            return
        for attempt in range(1, 6):
            try:
                doc = await self.store.get_case(event.case_id)
                break
            except Exception as exc:
                log.warning("case re-read failed", extra={"error": type(exc).__name__, "attempt": attempt})
                await asyncio.sleep(0.2 * attempt)
        else:
            return
        if doc is not None:
            self.index.apply(summary_from_doc(doc))
