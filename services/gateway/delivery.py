"""Executes outbound commands against Zalo: exactly one final outcome per command_id.

`ZaloCaller` makes one logical Zalo call: the OA's token, a rate slot in the command's lane, the
HTTP request, classification (zalo_api), token refresh on -216/-220/-124, exponential backoff with
jitter on network errors, 5xx and -32, no retry on permanent codes.

`Delivery` wraps a command in its records (store.SendStore):
1. claim `command_id` (insert of claim generation 0, with a lease) before anything reaches Zalo; if
   it exists: a recorded outcome → return it (a redelivery is never sent again); a claim with a live
   lease → another replica is on it, wait; an expired lease → a replica died mid-send: take it over
   by inserting the next claim generation (one winner);
2. render, call, classify, retry; a multi-step broadcast records its progress (article token, id,
   "broadcast" stage) on its claim so a takeover resumes without creating a second article;
3. insert the outcome (first writer wins), then return it for the kit to publish.

Crash windows (docs/gateway.md): after Zalo accepted a call and before step 3 lands, a redelivery
finds a claim without an outcome and cannot know whether Zalo acted. Sends, tags and untags are then sent again
(at-least-once; tags are idempotent at Zalo); a broadcast that reached its "broadcast" stage is not
(at-most-once): it ends `failed` with reason `other` for a person to check.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import DeliveryOutcome, OutboundCommand
from servicekit.errors import is_infrastructure_error
from servicekit.ids import derived_id
from servicekit.logs import pii
from servicekit.registry import OfficialAccount, Registry
from services.gateway import zalo_api
from services.gateway.metrics import EgressMetrics
from services.gateway.ratelimit import RateLimiter
from services.gateway.settings import EgressSettings
from services.gateway.store import SendStore
from services.gateway.tokens import TokenManager, TokenUnavailable
from services.gateway.zalo_client import ZaloClient, ZaloTransportError

log = logging.getLogger("gateway.egress")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class CallFailed(Exception):
    """A Zalo call ended without success; `verdict` says why and whether to retry later."""

    def __init__(self, verdict: zalo_api.Verdict, detail: str | None = None) -> None:
        super().__init__(detail or verdict.reason)
        self.verdict = verdict
        self.detail = detail


class Pending(Exception):
    """Zalo answered a code the caller polls on (e.g. -214 article still processing)."""

    def __init__(self, code: int) -> None:
        super().__init__(str(code))
        self.code = code


@dataclass
class CallBudget:
    """Bookkeeping shared by every call made for one command."""

    deadline: float  # time.monotonic() after which nothing is retried
    not_after: datetime | None = None
    calls: int = 0  # Zalo calls made (reported as `attempts`)
    failures: int = 0  # failed calls counted against send_max_attempts
    refreshes: int = 0
    per_code: Counter[str] = field(default_factory=Counter)
    last: zalo_api.Verdict | None = None
    maybe_applied: bool = False  # an at-most-once call failed in a way that may have taken effect


EXPIRED = zalo_api.Verdict(ok=False, reason="expired")
MAX_TOKEN_REPLACEMENTS = 2


class ZaloCaller:
    """One logical Zalo call with token handling, rate limiting and retries."""

    def __init__(
        self,
        client: ZaloClient,
        tokens: TokenManager,
        limiter: RateLimiter,
        metrics: EgressMetrics,
        *,
        max_attempts: int,
        backoff_initial_s: float,
        backoff_max_s: float,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._limiter = limiter
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    def backoff(self, failures: int) -> float:
        """Exponential backoff with equal jitter: half the step fixed, half random."""
        initial, cap = self._backoff
        step = min(cap, initial * 2 ** max(failures - 1, 0))
        return step / 2 + self._rng() * step / 2

    async def call(
        self,
        oa: OfficialAccount,
        lane: str,
        request: zalo_api.ZaloRequest,
        budget: CallBudget,
        *,
        at_most_once: bool = False,
        poll_codes: frozenset[int] = frozenset(),
        before_retry: Callable[[], Awaitable[None]] | None = None,
    ) -> Any:
        """The success body. `at_most_once`: retry only failures that certainly had no effect at Zalo."""
        while True:
            if budget.not_after is not None and self._clock() > budget.not_after:
                raise CallFailed(EXPIRED, "not_after passed")
            try:
                token = await self._tokens.access_token(oa)
            except TokenUnavailable as exc:
                raise CallFailed(_token_verdict(exc), exc.detail) from exc
            await self._limiter.acquire(lane)
            budget.calls += 1
            try:
                reply = await self._client.call(request, token)
                verdict = zalo_api.classify_http(reply.status, reply.body)
            except ZaloTransportError as exc:
                reply = None
                verdict = zalo_api.classify_transport(exc.connected)
            self._metrics.attempts.labels(oa.key, verdict.reason).inc()
            if verdict.ok:
                assert reply is not None
                return reply.body
            if verdict.zalo_error in poll_codes:
                raise Pending(verdict.zalo_error or 0)
            budget.last = verdict
            if verdict.refresh_token:
                if budget.refreshes >= MAX_TOKEN_REPLACEMENTS:
                    raise CallFailed(verdict, "token refused again after a refresh")
                budget.refreshes += 1
                try:
                    await self._tokens.replace(oa, token)
                except TokenUnavailable as exc:
                    raise CallFailed(_token_verdict(exc, verdict), exc.detail) from exc
                continue
            if verdict.reason == "rate_limited":
                await self._limiter.saturate()  # the next acquire waits for the next window
            budget.failures += 1
            code = str(verdict.zalo_error or verdict.http_status or "transport")
            budget.per_code[code] += 1
            if at_most_once and not verdict.not_applied:
                budget.maybe_applied = True  # e.g. a 5xx after Zalo broadcast: never to be tried again
                raise CallFailed(verdict)
            if not verdict.retry:
                raise CallFailed(verdict)
            if budget.failures >= self._max_attempts or (
                verdict.max_tries is not None and budget.per_code[code] >= verdict.max_tries
            ):
                raise CallFailed(verdict, "retries exhausted")
            delay = 0.0 if verdict.reason == "rate_limited" else self.backoff(budget.failures)
            if time.monotonic() + delay > budget.deadline:
                raise CallFailed(verdict, "command deadline reached")
            await self._sleep(delay)
            if before_retry is not None:
                await before_retry()


def _token_verdict(exc: TokenUnavailable, zalo: zalo_api.Verdict | None = None) -> zalo_api.Verdict:
    return zalo_api.Verdict(
        ok=False,
        reason="token",
        retryable=True,
        zalo_error=zalo.zalo_error if zalo else None,
        zalo_message=exc.detail,
    )


@dataclass(frozen=True)
class Sent:
    zalo_message_id: str | None = None
    article_id: str | None = None
    quota_type: str | None = None


@dataclass(frozen=True)
class _Claim:
    gen: int = 0
    final: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None  # the interrupted claim this one took over


class Delivery:
    """Turns one OutboundCommand into one DeliveryOutcome; see the module docstring."""

    def __init__(
        self,
        settings: EgressSettings,
        registry: Registry,
        sends: SendStore,
        caller: ZaloCaller,
        metrics: EgressMetrics,
        *,
        owner: str,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._sends = sends
        self._caller = caller
        self._metrics = metrics
        self._owner = owner
        self._clock = clock
        self._sleep = sleep
        self._lease = timedelta(seconds=settings.rate_window_s + 2 * settings.http_timeout_s + 10)
        self._unrecorded: dict[str, DeliveryOutcome] = {}
        self._active: set[str] = set()  # command_ids this process is working on right now

    async def deliver(self, cmd: OutboundCommand) -> DeliveryOutcome:
        pending = self._unrecorded.get(cmd.command_id)
        if pending is not None:  # sent earlier, but the final write failed: record it now, never resend
            return await self._record(cmd, pending)
        while cmd.command_id in self._active:  # the same command twice in flight here (two partitions)
            await self._sleep(0.05)
        self._active.add(cmd.command_id)
        try:
            return await self._deliver(cmd)
        finally:
            self._active.discard(cmd.command_id)

    async def _deliver(self, cmd: OutboundCommand) -> DeliveryOutcome:
        claim = await self._claim(cmd)
        if claim.final is not None:
            self._metrics.replays.labels("republished").inc()
            return DeliveryOutcome.model_validate(claim.final["outcome"])
        if claim.previous is not None:
            self._metrics.replays.labels("taken_over").inc()
            log.warning(
                "taking over an interrupted command",
                extra={"command_id": cmd.command_id, "action": cmd.action, "stage": claim.previous.get("stage")},
            )
        outcome = await self._run(cmd, claim)
        return await self._record(cmd, outcome)

    # -- claim and record --------------------------------------------------------------------
    async def _claim(self, cmd: OutboundCommand) -> _Claim:
        cid = cmd.command_id
        while True:
            now = self._clock()
            if await self._sends.claim(cid, 0, self._owner, now + self._lease, now, oa_id=cmd.oa_id):
                return _Claim()
            final = await self._sends.outcome(cid)
            if final is not None:
                return _Claim(final=final)
            latest = await self._sends.latest_claim(cid)
            if latest is None:
                continue
            lease_until = latest.get("lease_until")
            ours = latest.get("owner") == self._owner  # our own earlier run, aborted (e.g. a MongoDB error)
            if not ours and lease_until is not None and lease_until > now:
                # Another replica is calling Zalo for this command right now (a rebalance overlap).
                await self._sleep(min(0.5, (lease_until - now).total_seconds()))
                continue
            gen = int(latest["gen"]) + 1
            carried = {k: latest[k] for k in ("stage", "article_token", "article_id") if latest.get(k)}
            if await self._sends.claim(cid, gen, self._owner, now + self._lease, now, oa_id=cmd.oa_id, **carried):
                return _Claim(gen=gen, previous=latest)

    async def _record(self, cmd: OutboundCommand, outcome: DeliveryOutcome) -> DeliveryOutcome:
        try:
            record = await self._sends.finish(
                cmd.command_id, outcome.status, outcome.model_dump(mode="json"), self._owner, self._clock()
            )
        except Exception as exc:
            if is_infrastructure_error(exc):
                self._unrecorded[cmd.command_id] = outcome  # the kit retries; we must not call Zalo again
            raise
        self._unrecorded.pop(cmd.command_id, None)
        final = DeliveryOutcome.model_validate(record["outcome"])
        if record.get("owner") == self._owner:
            self._count(cmd, final)
        return final

    def _count(self, cmd: OutboundCommand, outcome: DeliveryOutcome) -> None:
        oa = self._registry.by_id(cmd.oa_id)
        self._metrics.sends.labels(
            oa.key if oa else "unregistered",
            cmd.lane,
            cmd.action,
            outcome.status,
            str(outcome.zalo_error) if outcome.zalo_error is not None else "",
        ).inc()
        log.info(
            "command finished",
            extra={
                "command_id": cmd.command_id,
                "oa": oa.key if oa else cmd.oa_id,
                "user": pii(cmd.user_id),
                "lane": cmd.lane,
                "action": cmd.action,
                "status": outcome.status,
                "reason": outcome.reason,
                "zalo_error": outcome.zalo_error,
                "attempts": outcome.attempts,
            },
        )

    # -- run ---------------------------------------------------------------------------------
    async def _run(self, cmd: OutboundCommand, claim: _Claim) -> DeliveryOutcome:
        previous = claim.previous
        now = self._clock()
        try:
            not_after = _parse_time(cmd.not_after)
        except ValueError:
            return self._outcome(cmd, "failed", "invalid", 0, detail="not_after is not an ISO time")
        if not_after is not None and now > not_after:
            return self._outcome(cmd, "skipped", "expired", 0, detail="not_after passed before sending")
        oa = self._registry.by_id(cmd.oa_id)
        if oa is None:
            return self._outcome(cmd, "failed", "other", 0, detail="OA is not in the registry")
        defaults = zalo_api.RenderDefaults(oa.display_name, self._settings.request_info_image_url)
        try:
            if cmd.action == "send":
                request = zalo_api.render_send(cmd, defaults)
            elif cmd.action in ("tag_user", "untag_user"):
                request = zalo_api.render_tag(cmd)
            else:
                assert cmd.article is not None
                request = zalo_api.render_article_create(cmd.article)
        except zalo_api.RenderError as exc:
            return self._outcome(cmd, "failed", "invalid", 0, detail=str(exc))
        if previous is not None:
            if cmd.action == "broadcast_article" and previous.get("stage") == "broadcast":
                return self._outcome(
                    cmd,
                    "failed",
                    "other",
                    0,
                    detail="interrupted after the broadcast call: outcome unknown, not repeated (check the OA)",
                    article_id=previous.get("article_id"),
                )
            if cmd.action == "send" and not self._settings.resend_uncertain_sends:
                return self._outcome(cmd, "failed", "other", 0, detail="interrupted during the send: outcome unknown")

        budget = CallBudget(deadline=time.monotonic() + self._settings.command_deadline_s, not_after=not_after)

        async def renew() -> None:
            await self._sends.renew(cmd.command_id, claim.gen, self._clock() + self._lease)

        try:
            if cmd.action == "broadcast_article":
                sent = await self._broadcast(cmd, claim.gen, oa, request, budget, previous or {}, renew)
            else:
                body = await self._caller.call(oa, cmd.lane, request, budget, before_retry=renew)
                data = zalo_api.data_of(body)
                quota = data.get("quota") if isinstance(data.get("quota"), dict) else {}
                sent = Sent(
                    zalo_message_id=str(data["message_id"]) if data.get("message_id") else None,
                    quota_type=quota.get("quota_type"),
                )
        except CallFailed as failed:
            v = failed.verdict
            status = "skipped" if v.reason == "expired" and budget.calls == 0 else "failed"
            return self._outcome(
                cmd,
                status,
                v.reason,
                budget.calls,
                detail=v.zalo_message or failed.detail,
                zalo_error=v.zalo_error,
                # Retryable only if trying again cannot repeat what may have happened (a broadcast).
                retryable=v.retryable and not budget.maybe_applied,
            )
        return self._outcome(
            cmd,
            "sent",
            "ok",
            budget.calls,
            zalo_message_id=sent.zalo_message_id,
            article_id=sent.article_id,
            quota_type=sent.quota_type,
        )

    async def _broadcast(
        self,
        cmd: OutboundCommand,
        gen: int,
        oa: OfficialAccount,
        create: zalo_api.ZaloRequest,
        budget: CallBudget,
        progress: dict[str, Any],
        renew: Callable[[], Awaitable[None]],
    ) -> Sent:
        """create → verify until it has an id → broadcast; progress is recorded between the steps."""
        article_id = progress.get("article_id")
        if not article_id:
            token = progress.get("article_token")
            if not token:
                body = await self._caller.call(oa, cmd.lane, create, budget, before_retry=renew)
                token = zalo_api.data_of(body).get("token")
                if not token:
                    raise CallFailed(zalo_api.Verdict(ok=False, reason="other"), "article/create gave no token")
                await self._sends.progress(cmd.command_id, gen, article_token=token, stage="verify")
            article_id = await self._verify(cmd, oa, str(token), budget, renew)
            await self._sends.progress(cmd.command_id, gen, article_id=article_id, stage="broadcast")
        elif progress.get("stage") != "broadcast":
            await self._sends.progress(cmd.command_id, gen, stage="broadcast")
        body = await self._caller.call(
            oa,
            cmd.lane,
            zalo_api.render_broadcast(str(article_id), cmd.target),
            budget,
            at_most_once=True,
            before_retry=renew,
        )
        message_id = zalo_api.data_of(body).get("message_id")
        return Sent(zalo_message_id=str(message_id) if message_id else None, article_id=str(article_id))

    async def _verify(
        self,
        cmd: OutboundCommand,
        oa: OfficialAccount,
        token: str,
        budget: CallBudget,
        renew: Callable[[], Awaitable[None]],
    ) -> str:
        """[C] poll /v2.0/article/verify: -214 while Zalo processes the article, then data.id."""
        request = zalo_api.render_article_verify(token)
        for poll in range(self._settings.article_verify_attempts):
            try:
                body = await self._caller.call(
                    oa,
                    cmd.lane,
                    request,
                    budget,
                    poll_codes=frozenset({zalo_api.ARTICLE_PROCESSING}),
                    before_retry=renew,
                )
            except Pending:
                if poll + 1 < self._settings.article_verify_attempts:
                    await self._sleep(self._settings.article_verify_interval_s)
                    await renew()
                continue
            article_id = zalo_api.data_of(body).get("id")
            if article_id:
                return str(article_id)
            raise CallFailed(zalo_api.Verdict(ok=False, reason="other"), "article/verify gave no id")
        raise CallFailed(
            zalo_api.Verdict(ok=False, reason="transient", retryable=True, zalo_error=zalo_api.ARTICLE_PROCESSING),
            "article still processing after every poll",
        )

    def _outcome(
        self,
        cmd: OutboundCommand,
        status: str,
        reason: str,
        attempts: int,
        *,
        detail: str | None = None,
        zalo_error: int | None = None,
        retryable: bool = False,
        zalo_message_id: str | None = None,
        article_id: str | None = None,
        quota_type: str | None = None,
    ) -> DeliveryOutcome:
        return DeliveryOutcome(
            event_id=derived_id("gateway-delivery", cmd.command_id),
            occurred_at=self._clock(),
            producer=self._settings.service_name,
            correlation_id=cmd.correlation_id,
            command_id=cmd.command_id,
            oa_id=cmd.oa_id,
            user_id=cmd.user_id,
            action=cmd.action,
            lane=cmd.lane,
            status=status,  # type: ignore[arg-type]
            zalo_message_id=zalo_message_id,
            article_id=article_id,
            quota_type=quota_type,
            zalo_error=zalo_error,
            zalo_message=detail,
            reason=reason,  # type: ignore[arg-type]
            retryable=retryable,
            attempts=attempts,
            context=cmd.context,
        )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # naive: read as UTC, like every producer
