"""The app-wide Zalo rate limit, held by every replica together through one MongoDB counter per window.

Zalo counts calls per app (all its OAs) per minute and answers -32 beyond 4,000 (§4.4). We keep
fixed windows aligned to the epoch like Zalo's minute ([U]) and number the calls of each window:
a call may be made once its replica inserted a slot document with an index below the lane's cap
(store.RateSlots; an insert has one winner, unlike an $inc on FerretDB), so the sum over all
replicas never exceeds the configured limit:

- conversation: up to the whole window;
- notice: all but `conversation_reserve` of it (a margin kept for replies at all times);
- campaign: what the other lanes leave. A campaign slot is a second numbered sequence (`c`, capped
  at `campaign_share` of the window), and its total index must stay below the limit minus the
  margin minus the replies and notices still expected in the rest of the window: their rate is
  the larger of the previous window's and the current one's (known from how far the two sequences
  have advanced: all calls minus campaign calls). Campaigns thus fill the window up to its end
  without ever taking the slots a reply will need, and replies never wait for a campaign.

A replica reserves up to `batch` slots per round trip (≤ 1% of the limit, so unused reserved slots
cost little); a slot is only used in the window it was reserved for, and never in the last
`guard_s` of a window, so a call cannot arrive at Zalo after the window it was counted in ended.
When a lane's share is used up the caller sleeps until the next window (plus a little jitter); a
campaign held back only for replies still expected looks again a little later, as that room frees
up while the window runs out. After a -32 the window is closed for every replica (a marker document
checked before each reservation).
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
        self.reserve = reserve
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
        self._recheck: dict[str, float] = {}  # lane → wall time to look again before the window ends

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
                    if self._full.get(lane) != window and self._recheck.get(lane, 0.0) <= self._wall():
                        got = await self._reserve(window, lane, now)
                        if got:
                            self._pools[lane] = (window, got - 1)
                            break
                        if lane not in self._recheck:
                            self._full[lane] = window
            waited = True
            # Full (or too close to the end): sleep into the next window, spread a little across callers;
            # a campaign held back for replies still expected looks again sooner.
            wake = min(end, self._recheck.get(lane, end))
            await self._sleep(max(0.0, wake - self._wall()) + self._rng() * min(0.05 * self.window_s, 0.25))
        if waited:
            self._metrics.rate_waits.labels(lane).inc()
            self._metrics.rate_wait_seconds.labels(lane).observe(self._wall() - started)

    def others(self, window: int) -> int:
        """Non-campaign calls of a window as far as this replica has seen (all slots minus campaign slots)."""
        return max(0, self._cursors.get((window, "t"), 0) - self._cursors.get((window, "c"), 0))

    def campaign_room(self, window: int, now: float) -> int:
        """Highest total index (exclusive) a campaign slot may take now: the limit minus the margin minus
        the non-campaign calls still expected before the window ends."""
        elapsed = now - window * self.window_s
        rate = max(self.others(window - 1) / self.window_s, self.others(window) / max(elapsed, self.window_s / 4))
        expected = math.ceil(rate * (self.window_s - elapsed))
        return min(self._caps["campaign"][0], self.limit - self.reserve - expected)

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

    async def _reserve(self, window: int, lane: str, now: float) -> int:
        """Take up to `batch` slots of this window for a lane; 0 when the lane's share is used up."""
        total_cap, campaign_cap = self._caps[lane]
        key = self.key(window)
        if await self._slots.closed(key):
            return 0
        self._cursors = {k: v for k, v in self._cursors.items() if k[0] >= window - 1}
        self._recheck.pop(lane, None)
        held_for_replies = False
        if lane == "campaign":
            total_cap = self.campaign_room(window, now)
            held_for_replies = total_cap < self._caps["campaign"][0]
            if self._cursors.get((window, "t"), 0) >= total_cap:
                return self._held(lane, now, held_for_replies)
        want = self.batch
        if campaign_cap is not None:
            want = await self._take(window, key, "c", want, campaign_cap)
            if not want:
                return 0
        # Campaign slots taken just above are lost if the total is full (checked just before, so rare):
        # they make `others` a little smaller until the next window.
        got = await self._take(window, key, "t", want, total_cap)
        return got or self._held(lane, now, held_for_replies)

    def _held(self, lane: str, now: float, for_replies: bool) -> int:
        """No slot now. A campaign held back only for the replies still expected looks again soon:
        that room frees up as the window runs out."""
        if for_replies:
            self._recheck[lane] = now + max(self.window_s / 50, 0.05)
        return 0

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
