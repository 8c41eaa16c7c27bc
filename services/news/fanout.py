"""The campaign runner: scheduler, leases, the resumable fan-out and the lifecycle outbox.

One `Scheduler` per replica wakes every `scheduler_interval_s`: it publishes pending lifecycle events
(the outbox written with each state change), finds approved campaigns that are due and running ones,
and takes each campaign's lease (findAndModify on owner + expiry) before running it. A runner renews
its lease; when it cannot, or the campaign is paused or cancelled, it stops at the next slice.

A run, each step resumable after a crash at any point:
1. article broadcasts: per targeted OA, write the delivery record, produce ONE `broadcast_article`
   command whose id derives from (campaign, OA), then add the OA to `articles.produced` (a further
   attempt, in step 4, only after an outcome saying the broadcast certainly did not happen);
2. plan: stream the targeted followers with a cursor and write one delivery record per reachable
   follower (unique `_id` per campaign and recipient; a re-run after a crash rewrites nothing);
3. send: stream the records in key order after `dm.cursor`, one rate-limited slice at a time:
   check unfollow/opt-out markers and the window, mark skips, produce the commands (acks=all), then
   advance the cursor with compare-and-set. A crash before the cursor moves re-produces the same
   slice with the same command ids, which the egress deduplicates; nothing after the cursor was sent;
4. settle: retry retryable failures (new attempt = new command id, recorded before producing),
   wait for outcomes (or `outcome_timeout_s`), then finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import PyMongoError

from contracts import BroadcastLifecycle, Message, OutboundCommand, citizen_key
from contracts.topics import NEWS_BROADCASTS, ZALO_OUTBOUND_BULK
from servicekit.ids import derived_id, new_id
from servicekit.producer import EventProducer, Outgoing
from services.news import domain
from services.news.backlog import EgressBacklog
from services.news.domain import CampaignSpec
from services.news.handlers import PRODUCER, Deps

log = logging.getLogger("news.fanout")

LEASE_PREFIX = "campaign:"
RETRY_HINT_CHECK_S = 2.0
STATE_CHECK_S = 0.5
LEASE_CONFIRM_S = 0.2
FAILED_RUN_BACKOFF_S = 10.0
PURGE_EVERY_S = 600.0


class NotFound(Exception):
    """No such campaign (404)."""


class Conflict(Exception):
    """The campaign kept changing under us (409)."""


class Stop(Exception):
    """The runner must let go of its campaign (paused, cancelled, lease lost)."""


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"


async def change_state(
    deps: Deps,
    campaign_id: str,
    action: str,
    *,
    by: str,
    extra: dict[str, Any] | None = None,
    prog: dict[str, Any] | None = None,
    precheck: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Apply one lifecycle action atomically: state, version, history and the outbox event in one update."""
    async with deps.locks(LEASE_PREFIX + campaign_id):
        return await _change_state(deps, campaign_id, action, by=by, extra=extra, prog=prog, precheck=precheck)


async def _change_state(
    deps: Deps,
    campaign_id: str,
    action: str,
    *,
    by: str,
    extra: dict[str, Any] | None,
    prog: dict[str, Any] | None,
    precheck: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    for _ in range(5):
        c = await deps.store.get_campaign(campaign_id)
        if c is None:
            raise NotFound(campaign_id)
        if precheck is not None:
            precheck(c)
        new_state = domain.next_state(c["state"], action, started=bool(c.get("started_at")))
        now = deps.clock()
        version = int(c.get("version", 0)) + 1
        change = domain.CHANGE_OF_ACTION[action]
        spec = CampaignSpec.model_validate(c["spec"])
        oa_ids = [o.oa_id for o in domain.broadcast_oas(spec.target, deps.registry)]
        event = domain.lifecycle_event(campaign_id, change, version, now, oa_ids, prog)
        fields = {
            "state": new_state,
            "version": version,
            "updated_at": now,
            f"{change}_at": now,
            "outbox_pending": True,
            **(extra or {}),
        }
        update = {
            "$set": fields,
            "$push": {
                "history": {"change": change, "at": now, "by": by, "version": version},
                "outbox": event.model_dump(mode="json"),
            },
        }
        doc = await deps.store.update_campaign(
            campaign_id, {"state": c["state"], "version": c.get("version", 0)}, update
        )
        if doc is not None:
            deps.metrics.transitions.labels(change).inc()
            log.info("campaign state", extra={"campaign_id": campaign_id, "change": change, "by": by})
            deps.wake.set()
            return doc
    raise Conflict(campaign_id)


async def campaign_progress(deps: Deps, campaign_id: str) -> dict[str, Any]:
    """Per-channel progress: the runner's counters plus the delivery records grouped by outcome."""
    run = await deps.store.get_fanout(campaign_id)
    rows = await deps.store.counts(campaign_id)
    return domain.progress(run, rows, deps.settings.max_campaign_sends_per_s)


class RateLimiter:
    """The replica's campaign send budget, shared by its runners: a ceiling rate, and room in the
    egress's backlog (see backlog.py) so that the pace follows what Zalo's limit lets the egress send."""

    def __init__(
        self,
        rate: float,
        burst: float,
        backlog: EgressBacklog | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bucket = domain.TokenBucket(rate, burst)
        self._backlog = backlog
        self._monotonic = monotonic
        self._lock = asyncio.Lock()

    async def acquire(self, want: int) -> int:
        """Wait for room in the egress's backlog and at least one token; take up to `want`."""
        async with self._lock:
            if self._backlog is not None:
                await self._backlog.wait_room()
            while True:
                got = self._bucket.take(self._monotonic(), want)
                if got:
                    return got
                await asyncio.sleep(self._bucket.wait_s(self._monotonic()))

    def refund(self, n: int) -> None:
        if n > 0:
            self._bucket.refund(n)


class Relay:
    """Publishes the lifecycle events that state changes appended to their campaign's outbox."""

    def __init__(self, deps: Deps, producer: EventProducer) -> None:
        self.deps = deps
        self.producer = producer

    async def flush(self) -> None:
        for doc in await self.deps.store.outbox_pending():
            events = doc.get("outbox") or []
            start = int(doc.get("outbox_published", 0))
            for raw in events[start:]:
                event = BroadcastLifecycle.model_validate(raw)
                await self.producer.publish(NEWS_BROADCASTS, doc["_id"], event)
                self.deps.metrics.lifecycle_published.labels(event.change).inc()
            async with self.deps.locks(LEASE_PREFIX + doc["_id"]):
                await self.deps.store.outbox_published(doc["_id"], start, len(events))


class Scheduler:
    """Starts a runner for every due or running campaign whose lease this replica gets."""

    def __init__(self, deps: Deps, producer: EventProducer, owner: str) -> None:
        self.deps = deps
        self.producer = producer
        self.owner = owner
        settings = deps.settings
        rate = settings.max_campaign_sends_per_s
        self.backlog = EgressBacklog(
            settings.kafka(),
            settings.topic(ZALO_OUTBOUND_BULK),
            settings.egress_group,
            settings.max_egress_backlog,
        )
        self.limiter = RateLimiter(rate, max(1.0, min(rate, float(settings.send_slice_max))), self.backlog)
        self.relay = Relay(deps, producer)
        self.runners: dict[str, asyncio.Task[None]] = {}
        self._backoff: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="news-scheduler")

    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self.runners.values()) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.relay.flush()
        await self.backlog.close()

    async def _loop(self) -> None:
        interval = self.deps.settings.scheduler_interval_s
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scheduler tick failed", extra={"error": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deps.wake.wait(), interval)
            self.deps.wake.clear()

    async def tick(self) -> None:
        store, settings = self.deps.store, self.deps.settings
        await self.relay.flush()
        now = self.deps.clock()
        due = await store.campaigns_to_run(now)
        self.deps.metrics.in_flight.set(sum(1 for c in due if c["state"] == "running"))
        for c in due:
            cid = c["_id"]
            task = self.runners.get(cid)
            if (task is not None and not task.done()) or self._backoff.get(cid, 0.0) > time.monotonic():
                continue
            if not await store.acquire_lease(
                LEASE_PREFIX + cid, self.owner, now, timedelta(seconds=settings.lease_ttl_s)
            ):
                continue
            self.deps.metrics.leases.labels("acquired").inc()
            runner = CampaignRunner(self.deps, self.producer, self.limiter, cid, self.owner)
            self.runners[cid] = asyncio.create_task(self._run(runner), name=f"news-campaign:{cid}")
        for cid in [k for k, t in self.runners.items() if t.done()]:
            del self.runners[cid]
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            await self._purge(now)

    async def _run(self, runner: CampaignRunner) -> None:
        if not await runner.run():
            self._backoff[runner.campaign_id] = time.monotonic() + FAILED_RUN_BACKOFF_S

    async def _purge(self, now: datetime) -> None:
        """Unfollow/opt-out markers are needed while a campaign planned before them still sends."""
        before = now - timedelta(hours=self.deps.settings.suppression_retention_h)
        oldest = await self.deps.store.oldest_running_plan()
        if oldest is not None:
            before = min(before, oldest)
        await self.deps.store.purge_suppressions(before)


class CampaignRunner:
    """Runs one campaign while holding its lease; its bookkeeping is the campaign's `fanout` document."""

    def __init__(self, deps: Deps, producer: EventProducer, limiter: RateLimiter, campaign_id: str, owner: str) -> None:
        self.deps = deps
        self.store = deps.store
        self.settings = deps.settings
        self.producer = producer
        self.limiter = limiter
        self.campaign_id = campaign_id
        self.owner = owner
        self.lease = LEASE_PREFIX + campaign_id
        self._lease_deadline = time.monotonic() + deps.settings.lease_ttl_s
        self._lease_lost = False
        self._last_check = 0.0
        self._last_retry_check = time.monotonic()
        self._sent_times: deque[tuple[float, int]] = deque()
        self.spec = CampaignSpec()
        self.window = timedelta(0)

    async def run(self) -> bool:
        """True when the run ended normally (finished or let go); False after an error."""
        # Confirm the lease by reading it back once concurrent takers have written: FerretDB may
        # let two findAndModify calls on an expired lease both "succeed" (the last write wins).
        await asyncio.sleep(LEASE_CONFIRM_S)
        if await self.store.lease_owner(self.lease) != self.owner:
            self.deps.metrics.leases.labels("lost").inc()
            return True
        renew = asyncio.create_task(self._renew_forever())
        progress = asyncio.create_task(self._progress_forever())
        self.deps.metrics.runners.inc()
        try:
            await self._run()
            return True
        except (Stop, domain.InvalidTransition) as stop:  # paused/cancelled meanwhile, lease lost
            log.info("runner let go", extra={"campaign_id": self.campaign_id, "why": str(stop)})
            return True
        except Exception:
            log.exception("campaign run failed", extra={"campaign_id": self.campaign_id})
            return False
        finally:
            renew.cancel()
            progress.cancel()
            await asyncio.gather(renew, progress, return_exceptions=True)
            self.deps.metrics.runners.dec()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_lease(self.lease, self.owner))
                self.deps.metrics.leases.labels("released").inc()

    # --- lease and state ----------------------------------------------------------------------
    async def _renew_forever(self) -> None:
        ttl = self.settings.lease_ttl_s
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                ok = await self.store.acquire_lease(self.lease, self.owner, self.deps.clock(), timedelta(seconds=ttl))
            except Exception as exc:
                log.warning(
                    "lease renewal failed", extra={"campaign_id": self.campaign_id, "error": type(exc).__name__}
                )
                continue
            if not ok:
                self._lease_lost = True
                self.deps.metrics.leases.labels("lost").inc()
                return
            self._lease_deadline = time.monotonic() + ttl

    async def _check(self, force: bool = False) -> None:
        """Let go when the lease is (about to be) lost or the campaign is no longer running."""
        if self._lease_lost or time.monotonic() > self._lease_deadline - 1.0:
            raise Stop("lease lost")
        if force or time.monotonic() - self._last_check >= STATE_CHECK_S:
            self._last_check = time.monotonic()
            c = await self.store.campaigns.find_one({"_id": self.campaign_id}, {"state": 1})
            if c is None or c.get("state") != "running":
                raise Stop(f"campaign is {c.get('state') if c else 'gone'}")

    # --- the run ------------------------------------------------------------------------------
    async def _run(self) -> None:
        c = await self.store.get_campaign(self.campaign_id)
        if c is None:
            return
        if c["state"] == "approved":
            c = await change_state(self.deps, self.campaign_id, "start", by="scheduler")
        elif c["state"] != "running":
            return
        run = await self.store.update_fanout(self.campaign_id, {"$inc": {"run_count": 1}}) or {}
        if int(run.get("run_count", 1)) > 1:
            self.deps.metrics.resumes.inc()
        self.spec = CampaignSpec.model_validate(c["spec"])
        self.window = domain.dm_window(self.spec.channels, self.settings.free_window_h, self.settings.billed_window_h)
        if self.spec.channels.article and not (run.get("articles") or {}).get("done"):
            await self._articles(run)
        if self.spec.channels.direct:
            if not (run.get("plan") or {}).get("done"):
                run = await self._plan(run)
            if not (run.get("dm") or {}).get("stream_done"):
                await self._send(run)
        await self._settle(run)

    async def _articles(self, run: dict[str, Any]) -> None:
        oas = domain.broadcast_oas(self.spec.target, self.deps.registry)
        articles = run.get("articles") or {}
        if not articles.get("oa_ids"):
            await self.store.update_fanout(self.campaign_id, {"$set": {"articles.oa_ids": [o.oa_id for o in oas]}})
        produced = set(articles.get("produced") or [])
        for oa in oas:
            if oa.oa_id in produced:
                continue
            await self._check()
            now = self.deps.clock()
            command_id = domain.article_command_id(self.campaign_id, oa.oa_id)
            delivery_id = domain.article_delivery_id(self.campaign_id, oa.oa_id)
            record = {
                "_id": delivery_id,
                "campaign_id": self.campaign_id,
                "kind": "article",
                "oa_id": oa.oa_id,
                "status": "pending",
                "attempt": 1,
                "command_id": command_id,
                "created_at": now,
            }
            await self.store.insert_deliveries([record])  # the record exists before the command
            await self.limiter.acquire(1)
            await self.producer.publish(
                ZALO_OUTBOUND_BULK, citizen_key(oa.oa_id, None), self._article_command(record, now)
            )
            self.deps.metrics.commands.labels("article").inc()
            await self.store.update_fanout(self.campaign_id, {"$addToSet": {"articles.produced": oa.oa_id}})
        await self.store.update_fanout(self.campaign_id, {"$set": {"articles.done": True}})

    async def _plan(self, run: dict[str, Any]) -> dict[str, Any]:
        """Stream the audience once; one delivery record per reachable follower. Re-run from the start
        after a crash: the records' unique ids make the re-run write nothing twice."""
        started = time.monotonic()
        now = self.deps.clock()
        plan = run.get("plan") or {}
        cutoff: datetime = plan.get("cutoff") or now - self.window
        started_at = plan.get("started_at") or now
        run = (
            await self.store.update_fanout(
                self.campaign_id,
                {"$set": {"plan.cutoff": cutoff, "plan.started_at": started_at}, "$inc": {"plan.attempts": 1}},
            )
            or run
        )
        attempts = int((run.get("plan") or {}).get("attempts", 1))
        query = domain.audience_filter(self.spec.target, self.deps.registry)
        targeted = reachable = 0
        batch: list[dict[str, Any]] = []
        async for doc in self.store.stream_audience(query, self.settings.plan_batch):
            targeted += 1
            last = doc.get("last_interaction_at")
            if last is None or last < cutoff:
                continue
            reachable += 1
            batch.append(self._record(doc, last, now))
            if len(batch) >= self.settings.plan_batch:
                await self.store.insert_deliveries(batch)
                batch = []
                await self._check()
        await self.store.insert_deliveries(batch)
        if attempts > 1:
            # An earlier attempt may have planned followers who have left the audience since: the
            # records are the truth (those followers are skipped at send time by their markers).
            reachable = await self.store.count_dm(self.campaign_id)
        fields = {
            "plan.targeted": targeted,
            "plan.reachable": reachable,
            "plan.done": True,
            "plan.finished_at": self.deps.clock(),
            "dm.cursor": "",
        }
        run = await self.store.update_fanout(self.campaign_id, {"$set": fields}) or run
        self.deps.metrics.plan_seconds.observe(time.monotonic() - started)
        log.info(
            "campaign planned",
            extra={"campaign_id": self.campaign_id, "targeted": targeted, "reachable": reachable, "attempt": attempts},
        )
        return run

    def _record(self, doc: dict[str, Any], last: datetime, now: datetime) -> dict[str, Any]:
        oa_id, user_id = doc["oa_id"], doc["user_id"]
        return {
            "_id": domain.delivery_id(self.campaign_id, oa_id, user_id),
            "campaign_id": self.campaign_id,
            "kind": "dm",
            "oa_id": oa_id,
            "user_id": user_id,
            "recipient": citizen_key(oa_id, user_id),
            "closes_at": domain.window_closes(last, self.window),
            "status": "pending",
            "attempt": 1,
            "command_id": domain.dm_command_id(self.campaign_id, oa_id, user_id, 1),
            "created_at": now,
        }

    async def _send(self, run: dict[str, Any]) -> None:
        cursor: str = (run.get("dm") or {}).get("cursor", "")
        message = domain.dm_message(self.spec)
        stream = _Stream(self.store, self.campaign_id, cursor, self.settings.send_slice_max)
        try:
            while True:
                await self._check()
                want = await self.limiter.acquire(self.settings.send_slice_max)
                records = await stream.take(want)
                self.limiter.refund(want - len(records))
                if records:
                    cursor = await self._send_slice(records, cursor, message)
                    stream.position = cursor
                await self._periodic()
                if stream.exhausted:
                    break
        finally:
            await stream.close()
        now = self.deps.clock()
        await self.store.update_fanout(self.campaign_id, {"$set": {"dm.stream_done": True, "dm.stream_done_at": now}})

    async def _send_slice(self, records: list[dict[str, Any]], prev_cursor: str, message: Message) -> str:
        """Check, record skips, produce, then move the cursor (compare-and-set): the step that makes
        the fan-out resumable. A crash before the cursor moves re-produces this slice, same ids."""
        started = time.monotonic()
        now = self.deps.clock()
        suppressed = await self.store.suppressed([r["recipient"] for r in records])
        to_send: list[dict[str, Any]] = []
        skipped: Counter[str] = Counter()
        already = 0
        for r in records:
            status = r.get("status")
            if status == "skipped":  # decided by an earlier run of this slice
                skipped[r.get("reason") or "other"] += 1
                continue
            if status != "pending" or int(r.get("attempt", 1)) > 1:
                already += 1  # produced by an earlier run of this slice: its outcome is back already
                continue
            # The window is the one seen when planning: a citizen who wrote again since is in a
            # conversation with the OA anyway (and the egress enforces `not_after` as well).
            reason = domain.send_decision(r["closes_at"], now, suppressed.get(r["recipient"]))
            if reason:
                await self.store.mark_skipped(r["_id"], reason, "send", now)
                skipped[reason] += 1
                self.deps.metrics.skipped.labels(reason).inc()
                continue
            to_send.append(r)
        await self.producer.publish_all(
            [Outgoing(ZALO_OUTBOUND_BULK, r["recipient"], self._dm_command(r, message, now)) for r in to_send]
        )
        self.deps.metrics.commands.labels("direct").inc(len(to_send))
        last_id = records[-1]["_id"]
        inc: dict[str, int] = {"dm.queued": len(to_send) + already}
        inc.update({f"dm.skipped.{k}": v for k, v in skipped.items()})
        fields = {"dm.cursor": last_id, "dm.rate_per_s": self._rate(len(to_send)), "dm.updated_at": now}
        doc = await self.store.update_fanout(
            self.campaign_id, {"$set": fields, "$inc": inc}, {"dm.cursor": prev_cursor}
        )
        if doc is None:
            raise Stop("cursor moved: another runner has the campaign")
        self.deps.metrics.slice_seconds.observe(time.monotonic() - started)
        return last_id

    def _article_command(self, r: dict[str, Any], now: datetime) -> OutboundCommand:
        oa = self.deps.registry.by_id(r["oa_id"])
        assert oa is not None, "an OA of the campaign left the registry"
        return self._command(
            r,
            now,
            action="broadcast_article",
            article=domain.article_for(self.spec, oa),
            target=domain.broadcast_target(self.settings.article_city_codes),
        )

    def _dm_command(self, r: dict[str, Any], message: Message, now: datetime) -> OutboundCommand:
        return self._command(
            r,
            now,
            user_id=r["user_id"],
            action="send",
            message_type="cs",
            message=message,
            not_after=r["closes_at"].isoformat(),
        )

    def _command(self, r: dict[str, Any], now: datetime, **fields: Any) -> OutboundCommand:
        """The command of delivery record `r` (its id and attempt's command id), on the campaign lane."""
        return OutboundCommand(
            event_id=derived_id("news-cmd", r["command_id"]),
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=self.campaign_id,
            command_id=r["command_id"],
            oa_id=r["oa_id"],
            lane="campaign",
            context={"service": PRODUCER, "campaign_id": self.campaign_id, "delivery_id": r["_id"]},
            **fields,
        )

    def _rate(self, sent: int) -> float:
        now = time.monotonic()
        self._sent_times.append((now, sent))
        while self._sent_times and now - self._sent_times[0][0] > 10.0:
            self._sent_times.popleft()
        span = now - self._sent_times[0][0]
        total = sum(n for _, n in self._sent_times)
        return total / span if span > 0.5 else 0.0

    async def _periodic(self) -> None:
        """Retries that became due while sending (the outcome consumer leaves a hint)."""
        if time.monotonic() - self._last_retry_check >= RETRY_HINT_CHECK_S:
            self._last_retry_check = time.monotonic()
            if await self.store.take_retry_hint(self.campaign_id, self.deps.clock()):
                await self._retries()

    async def _progress_forever(self) -> None:
        """Periodic progress on news.broadcasts.v1, beside the sending (counting may scan)."""
        while True:
            await asyncio.sleep(self.settings.progress_interval_s)
            try:
                await self._publish_progress()
            except Exception as exc:
                log.warning(
                    "progress not published", extra={"campaign_id": self.campaign_id, "error": type(exc).__name__}
                )

    async def _publish_progress(self) -> dict[str, Any]:
        prog = await campaign_progress(self.deps, self.campaign_id)
        now = self.deps.clock()
        oa_ids = [o.oa_id for o in domain.broadcast_oas(self.spec.target, self.deps.registry)]
        event = domain.lifecycle_event(self.campaign_id, "progress", now.isoformat(), now, oa_ids, prog)
        await self.producer.publish(NEWS_BROADCASTS, self.campaign_id, event)
        self.deps.metrics.lifecycle_published.labels("progress").inc()
        return prog

    async def _retries(self) -> None:
        """Produce the retries that are due; first re-produce attempts recorded but maybe never produced."""
        now = self.deps.clock()
        message = domain.dm_message(self.spec)
        for r in await self.store.requeued(self.campaign_id, 500):
            await self._produce_retry(r, now, message)
        for r in await self.store.due_retries(self.campaign_id, now, 500):
            await self._check()
            attempt = int(r["attempt"]) + 1
            if r.get("kind") == "article":  # reaches followers, not one citizen: no window, no opt-out
                command_id = domain.article_command_id(self.campaign_id, r["oa_id"], attempt)
            else:
                suppressed = await self.store.suppressed([r["recipient"]])
                reason = domain.send_decision(r["closes_at"], now, suppressed.get(r["recipient"]))
                if reason:
                    await self.store.mark_skipped(r["_id"], reason, "send", now, from_status="retry")
                    self.deps.metrics.skipped.labels(reason).inc()
                    continue
                command_id = domain.dm_command_id(self.campaign_id, r["oa_id"], r["user_id"], attempt)
            if await self.store.requeue(r["_id"], attempt, command_id, now):
                await self._produce_retry({**r, "attempt": attempt, "command_id": command_id}, now, message)
        later = await self.store.next_retry_at(self.campaign_id)
        if later is not None:
            await self.store.hint_retry(self.campaign_id, later)

    async def _produce_retry(self, r: dict[str, Any], now: datetime, message: Message) -> None:
        await self.limiter.acquire(1)
        if r.get("kind") == "article":
            await self.producer.publish(
                ZALO_OUTBOUND_BULK, citizen_key(r["oa_id"], None), self._article_command(r, now)
            )
        else:
            await self.producer.publish(ZALO_OUTBOUND_BULK, r["recipient"], self._dm_command(r, message, now))
        self.deps.metrics.commands.labels("retry").inc()
        await self.store.requeue_produced(r["_id"], r["command_id"])

    async def _settle(self, run: dict[str, Any]) -> None:
        """Wait for the outcomes (retrying what may succeed), then finish."""
        since = run.get("awaiting_since")
        if since is None:
            since = self.deps.clock()
            await self.store.update_fanout(self.campaign_id, {"$set": {"awaiting_since": since}})
        timeout = timedelta(seconds=self.settings.outcome_timeout_s)
        await self._retries()  # also re-produces attempts a crash left recorded but unproduced
        while True:
            await self._check(force=True)
            if await self.store.take_retry_hint(self.campaign_id, self.deps.clock()):
                await self._retries()
            if await self.store.outstanding(self.campaign_id) == 0:
                break
            if self.deps.clock() - since > timeout:
                log.warning("outcomes missing after the timeout; finishing", extra={"campaign_id": self.campaign_id})
                break
            await asyncio.sleep(max(0.2, self.settings.scheduler_interval_s))
        prog = await campaign_progress(self.deps, self.campaign_id)
        await change_state(self.deps, self.campaign_id, "finish", by="scheduler", prog=prog)


class _Stream:
    """The campaign's direct-message records after a position, re-opened after a cursor failure."""

    def __init__(self, store: Any, campaign_id: str, position: str, batch: int) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.position = position
        self.batch = batch
        self.exhausted = False
        self._it: AsyncIterator[dict[str, Any]] | None = None
        self._cursor: Any = None

    def _open(self) -> None:
        self._cursor = self.store.stream_dm(self.campaign_id, self.position, self.batch)
        self._it = self._cursor.__aiter__()

    async def take(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        failures = 0
        while len(out) < n and not self.exhausted:
            if self._it is None:
                self._open()
            assert self._it is not None
            try:
                with self.store.scanning():  # the first batch of a sorted scan can take long
                    out.append(await anext(self._it))
            except StopAsyncIteration:
                self.exhausted = True
            except PyMongoError as exc:
                failures += 1
                if failures > 5:
                    raise
                log.warning("delivery stream failed; reopening", extra={"error": type(exc).__name__})
                await self.close()
                if out:
                    return out  # the caller advances the position first
                await asyncio.sleep(min(5.0, 0.5 * failures))
        return out

    async def close(self) -> None:
        if self._cursor is not None:
            with contextlib.suppress(Exception):
                await self._cursor.close()
        self._cursor = None
        self._it = None
