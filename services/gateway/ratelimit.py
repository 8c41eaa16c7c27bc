"""The app-wide Zalo rate limit, held by every replica together through one MongoDB counter per window.

Zalo counts calls per app (all its OAs) per minute and answers -32 beyond 4,000 (§4.4). We keep
fixed windows aligned to the epoch like Zalo's minute ([U]) and number the calls of each window:
a call may be made once its replica inserted a slot document with an index below the lane's cap
(store.RateSlots; an insert has one winner, unlike an $inc on FerretDB), so the sum over all
replicas never exceeds the configured limit:

- conversation: up to the whole window;
- notice: all but `conversation_reserve` of it (the rest is kept for replies);
- campaign: like notice, and at most `campaign_share` of the window in total (a second numbered
  sequence, taken before the total one).

A replica reserves up to `batch` slots per round trip (≤ 1% of the limit, so unused reserved slots
cost little); a slot is only used in the window it was reserved for, and never in the last
`guard_s` of a window, so a call cannot arrive at Zalo after the window it was counted in ended.
When the window is full the caller sleeps until the next one (plus a little jitter). After a -32 the
window is closed for every replica (a marker document checked before each reservation).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.gateway.metrics import EgressMetrics
from services.gateway.store import RateSlots

Lanes = ("conversation", "notice", "campaign")


class RateLimiter:
    """Shared fixed-window lane budgets; `acquire(lane)` returns once a call may be made."""

    def __init__(
        self,
        slots: RateSlots,
        *,
        limit: int,
        window_s: float,
        campaign_share: float,
        conversation_reserve: float,
        guard_s: float,
        batch_max: int,
        metrics: EgressMetrics,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self._slots = slots
        self.limit = limit
        self.window_s = window_s
        self.guard_s = min(guard_s, window_s / 10)
        reserve = math.ceil(limit * conversation_reserve) if conversation_reserve else 0
        self._caps = {
            "conversation": (limit, None),
            "notice": (max(limit - reserve, 0), None),
            "campaign": (max(limit - reserve, 0), math.floor(limit * campaign_share)),
        }
        self.batch = max(1, min(batch_max, limit // 100))
        self._metrics = metrics
        self._wall = wall
        self._sleep = sleep
        self._rng = rng or (lambda: 0.5)
        self._pools: dict[str, tuple[int, int]] = {}  # lane → (window number, slots left)
        self._locks = {lane: asyncio.Lock() for lane in Lanes}
        self._full: dict[str, int] = {}  # lane → window known to be full for it (slots never come back)
        self._cursors: dict[tuple[int, str], int] = {}  # (window, sequence) → next index to try

    def caps(self, lane: str) -> tuple[int, int | None]:
        """(cap on the window total, cap on campaign slots) for a lane."""
        return self._caps[lane]

    def key(self, window: int) -> str:
        return f"{self.window_s:g}:{window}"

    async def acquire(self, lane: str) -> None:
        started = self._wall()
        waited = False
        while True:
            now = self._wall()
            window = int(now // self.window_s)
            end = (window + 1) * self.window_s
            if end - now > self.guard_s:
                if self._take_local(lane, window):
                    break
                async with self._locks[lane]:
                    if self._take_local(lane, window):
                        break
                    if self._full.get(lane) != window:
                        got = await self._reserve(window, lane)
                        if got:
                            self._pools[lane] = (window, got - 1)
                            break
                        self._full[lane] = window
            waited = True
            # Full (or too close to the end): sleep into the next window, spread a little across callers.
            await self._sleep(max(0.0, end - self._wall()) + self._rng() * min(0.05 * self.window_s, 0.25))
        if waited:
            self._metrics.rate_waits.labels(lane).inc()
            self._metrics.rate_wait_seconds.labels(lane).observe(self._wall() - started)

    async def saturate(self) -> None:
        """Zalo answered -32 although we counted: close the current window for every replica."""
        window = int(self._wall() // self.window_s)
        self._pools.clear()
        self._full = dict.fromkeys(Lanes, window)
        await self._slots.close(self.key(window), datetime.now(UTC))

    def _take_local(self, lane: str, window: int) -> bool:
        pool = self._pools.get(lane)
        if pool is None or pool[0] != window or pool[1] <= 0:
            return False
        self._pools[lane] = (window, pool[1] - 1)
        return True

    async def _reserve(self, window: int, lane: str) -> int:
        """Take up to `batch` slots of this window for a lane; 0 when the lane's share is used up."""
        total_cap, campaign_cap = self._caps[lane]
        key = self.key(window)
        if await self._slots.closed(key):
            return 0
        self._cursors = {k: v for k, v in self._cursors.items() if k[0] >= window}
        want = self.batch
        if campaign_cap is not None:
            want = await self._take(window, key, "c", want, campaign_cap)
            if not want:
                return 0
        # Campaign slots taken just above are lost if the total is full: the window is over anyway.
        return await self._take(window, key, "t", want, total_cap)

    async def _take(self, window: int, key: str, seq: str, want: int, cap: int) -> int:
        """Walk this replica's cursor until `want` or fewer slots below `cap` are ours (0: none left)."""
        while True:
            start = self._cursors.get((window, seq), 0)
            if start >= cap:
                return 0
            self._cursors[(window, seq)] = start + want
            got = await self._slots.take(key, seq, start, want, cap, datetime.now(UTC))
            if got:
                return got
