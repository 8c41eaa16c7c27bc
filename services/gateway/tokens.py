"""OA access tokens: cached, refreshed before expiry and after Zalo's invalid-token errors, one refresh
at a time per OA across every task and every replica, the new pair persisted before anyone uses it.

Protocol (per OA; the token document is an append-only log of versions, see store.py):
1. use the cached access token while it has more than `refresh_before_expiry_s` left;
2. otherwise, under an in-process lock, reload the current version (another replica may have
   refreshed);
3. if it is still stale, take the refresh lease of that version (an insert: one winner across
   replicas); a replica that cannot take it waits for the next version and uses the pair it holds;
4. the lease holder calls Zalo's refresh grant, then appends the new pair as the next version
   (retrying the write until it succeeds, shielded from cancellation) and only then hands it out.

The window this cannot close: Zalo rotates the refresh token when it answers; if the process dies
after Zalo processed the refresh and before the write in step 4 lands (the answer in flight, or the
write's round trip), the only copy of the new refresh token is gone and the old one is dead. The next
refresh is then refused, a `locked` version is appended (metric zan_zalo_oa_locked_out) and an OA
admin must issue a new refresh token (EGRESS_BOOTSTRAP_REFRESH_TOKENS, adopted at start). The same
happens if a refresh call times out after Zalo processed it. Refreshing only when needed (about once
a day per OA) keeps that window rare.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from servicekit.errors import is_infrastructure_error
from servicekit.registry import OfficialAccount, Registry
from services.gateway import zalo_api
from services.gateway.metrics import EgressMetrics
from services.gateway.store import TokenRecord, TokenStore, secret_hash
from services.gateway.zalo_client import ZaloClient, ZaloTransportError

log = logging.getLogger("gateway.tokens")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class TokenUnavailable(Exception):
    """No usable access token for an OA now. `locked_out`: it needs a new refresh token from an admin."""

    def __init__(self, oa_key: str, detail: str, locked_out: bool = False) -> None:
        super().__init__(f"{oa_key}: {detail}")
        self.oa_key = oa_key
        self.detail = detail
        self.locked_out = locked_out


class TokenManager:
    """Hands out each OA's current access token; see the module docstring for the refresh protocol."""

    def __init__(
        self,
        store: TokenStore,
        client: ZaloClient,
        registry: Registry,
        *,
        owner: str,
        refresh_before_expiry_s: float,
        lease_s: float,
        metrics: EgressMetrics,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self._client = client
        self._registry = registry
        self._owner = owner
        self._margin = timedelta(seconds=refresh_before_expiry_s)
        self._lease = timedelta(seconds=lease_s)
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._cache: dict[str, TokenRecord] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- bootstrap ---------------------------------------------------------------------------
    async def adopt_bootstrap(self, tokens: Mapping[str, str]) -> list[str]:
        """Adopt configured refresh tokens (OA key → token) not adopted before; returns the OA keys adopted."""
        adopted = []
        for key, refresh_token in tokens.items():
            try:
                oa = self._registry.by_key(key)
            except KeyError:
                log.warning("bootstrap refresh token for an OA missing from the registry", extra={"oa": key})
                continue
            if await self._store.adopt_bootstrap(oa.oa_id, oa.key, refresh_token, self._clock()):
                adopted.append(key)
                self._cache.pop(oa.oa_id, None)
                self._metrics.locked_out.labels(oa.key).set(0)
                log.info("bootstrap refresh token adopted", extra={"oa": key, "token": secret_hash(refresh_token)})
        return adopted

    # -- use ---------------------------------------------------------------------------------
    async def access_token(self, oa: OfficialAccount) -> str:
        """A token valid for at least `refresh_before_expiry_s` (refreshing first if needed)."""
        cached = self._cache.get(oa.oa_id)
        if cached is not None and cached.usable(self._clock(), self._margin):
            assert cached.access_token is not None
            return cached.access_token
        async with self._lock(oa.oa_id):
            record = await self._reload(oa)
            if record is not None and record.usable(self._clock(), self._margin):
                assert record.access_token is not None
                return record.access_token
            record = await self._refresh(oa, record, rejected_token=None)
            assert record.access_token is not None
            return record.access_token

    async def replace(self, oa: OfficialAccount, rejected_token: str) -> str:
        """Zalo refused `rejected_token` (-216/-220/-124): another replica's refresh may already have
        replaced it; if not, refresh now. Concurrent callers with the same token share one refresh."""
        async with self._lock(oa.oa_id):
            record = await self._reload(oa)
            if (
                record is not None
                and record.access_token
                and record.access_token != rejected_token
                and record.usable(self._clock(), timedelta(0))
            ):
                return record.access_token
            record = await self._refresh(oa, record, rejected_token=rejected_token)
            assert record.access_token is not None
            return record.access_token

    async def keep_fresh(self) -> int:
        """One pass over every OA with tokens: refresh those close to expiry (an idle OA's refresh
        token would otherwise die after 3 months) and drop old versions. Returns how many it refreshed."""
        refreshed = 0
        for oa in self._registry.oas:
            record = await self._store.current(oa.oa_id)
            if record is None:
                continue
            self._metrics.locked_out.labels(oa.key).set(1 if record.locked_out else 0)
            if record.locked_out or record.usable(self._clock(), self._margin):
                await self._store.purge(oa.oa_id)
                continue
            try:
                await self.access_token(oa)
                refreshed += 1
            except TokenUnavailable as exc:
                log.warning("token check failed", extra={"oa": oa.key, "detail": exc.detail})
        return refreshed

    # -- internals ---------------------------------------------------------------------------
    def _lock(self, oa_id: str) -> asyncio.Lock:
        lock = self._locks.get(oa_id)
        if lock is None:
            lock = self._locks[oa_id] = asyncio.Lock()
        return lock

    async def _reload(self, oa: OfficialAccount) -> TokenRecord | None:
        record = await self._store.current(oa.oa_id)
        if record is not None:
            self._cache[oa.oa_id] = record
        return record

    async def _refresh(
        self, oa: OfficialAccount, record: TokenRecord | None, rejected_token: str | None
    ) -> TokenRecord:
        waited_until = self._clock() + self._lease * 2
        while True:
            if record is not None and record.locked_out:
                self._metrics.locked_out.labels(oa.key).set(1)
                raise TokenUnavailable(oa.key, "refresh token was refused: an OA admin must issue a new one", True)
            if record is None or not record.refresh_token:
                raise TokenUnavailable(oa.key, "no refresh token: set EGRESS_BOOTSTRAP_REFRESH_TOKENS", True)
            now = self._clock()
            if await self._store.acquire_lease(oa.oa_id, record.version, self._owner, now, now + self._lease):
                return await self._rotate(oa, record)
            # Another replica is refreshing (or just did): wait for the pair it saves.
            await self._sleep(0.05)
            fresh = await self._reload(oa)
            if (
                fresh is not None
                and record is not None
                and fresh.version != record.version
                and fresh.access_token
                and fresh.access_token != rejected_token
                and fresh.usable(self._clock(), timedelta(0))
            ):
                return fresh
            record = fresh
            if self._clock() > waited_until:
                raise TokenUnavailable(oa.key, "another replica's refresh did not finish")

    async def _rotate(self, oa: OfficialAccount, record: TokenRecord) -> TokenRecord:
        assert record.refresh_token is not None
        try:
            reply = await self._client.refresh(record.refresh_token)
        except ZaloTransportError as exc:
            await self._refresh_failed(oa, record, f"transport: {exc.kind}")
            raise TokenUnavailable(oa.key, "refresh call failed") from exc
        parsed = zalo_api.parse_token_response(reply.body) if reply.status == 200 else None
        if isinstance(parsed, zalo_api.OAuthRejected):
            return await self._rejected(oa, record, parsed)
        if parsed is None:
            await self._refresh_failed(oa, record, f"unreadable answer (HTTP {reply.status})")
            raise TokenUnavailable(oa.key, "refresh answer unreadable")
        now = self._clock()
        expires_at = now + timedelta(seconds=parsed.expires_in_s)
        # Persist before use, and do not let a cancelled caller abandon the only copy of the new pair.
        saved = await asyncio.shield(self._persist(oa, parsed, expires_at, now))
        self._cache[oa.oa_id] = saved
        self._metrics.token_refreshes.labels(oa.key, "ok").inc()
        self._metrics.locked_out.labels(oa.key).set(0)
        log.info(
            "access token refreshed",
            extra={"oa": oa.key, "version": saved.version, "refresh_token": secret_hash(parsed.refresh_token)},
        )
        return saved

    async def _persist(
        self, oa: OfficialAccount, grant: zalo_api.TokenGrant, expires_at: datetime, now: datetime
    ) -> TokenRecord:
        attempt = 0
        while True:
            try:
                return await self._store.save_grant(
                    oa.oa_id, oa.key, grant.access_token, grant.refresh_token, expires_at, now
                )
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise
                attempt += 1
                log.error(
                    "new token pair not saved yet; retrying (the old refresh token is already dead)",
                    extra={"oa": oa.key, "attempt": attempt, "error": type(exc).__name__},
                )
                await self._sleep(min(2.0, 0.1 * attempt))

    async def _rejected(
        self, oa: OfficialAccount, record: TokenRecord, rejected: zalo_api.OAuthRejected
    ) -> TokenRecord:
        now = self._clock()
        await self._store.release_lease(oa.oa_id, record.version, self._owner, now)
        if not await self._store.mark_locked_out(
            oa.oa_id, oa.key, record.version, f"{rejected.code} {rejected.name}", now
        ):
            # A newer version exists: another replica refreshed (its lease outlived ours) or a new
            # bootstrap token was adopted. That one is good; ours was simply stale.
            fresh = await self._reload(oa)
            if fresh is not None and not fresh.locked_out and fresh.access_token:
                return fresh
            if fresh is not None and not fresh.locked_out:
                return await self._refresh(oa, fresh, rejected_token=None)
        self._metrics.token_refreshes.labels(oa.key, "rejected").inc()
        self._metrics.locked_out.labels(oa.key).set(1)
        self._cache.pop(oa.oa_id, None)
        log.error("refresh token refused by Zalo: OA locked out", extra={"oa": oa.key, "zalo_error": rejected.code})
        raise TokenUnavailable(oa.key, "refresh token was refused: an OA admin must issue a new one", True)

    async def _refresh_failed(self, oa: OfficialAccount, record: TokenRecord, detail: str) -> None:
        self._metrics.token_refreshes.labels(oa.key, "failed").inc()
        log.warning("token refresh failed; will retry", extra={"oa": oa.key, "detail": detail})
        try:
            await self._store.release_lease(oa.oa_id, record.version, self._owner, self._clock())
        except Exception as exc:  # the lease expires by itself
            log.warning("lease release failed", extra={"oa": oa.key, "error": type(exc).__name__})
