"""Citizens writing to the bot at a steady rate, and how long each waited for the first reply.

Each message comes from a new citizen (one message per user id), sent through the simulator, which
signs and delivers the webhook exactly as Zalo does. The reply latency is measured from the moment
the message was handed to the simulator to the simulator's own record of the reply (`sent_time_ms`,
the same machine's clock), so polling the journal adds nothing to the figure. Sends are scheduled
open-loop (no coordinated omission): a slow system does not slow the offered load down.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import aiohttp


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


@dataclass
class Conversation:
    """Open-loop citizen messages to one OA; first-reply latency per citizen."""

    http: aiohttp.ClientSession
    sim_url: str
    oa_key: str
    text: str = "xin chào"
    user_base: int = 7_100_000_000_000_000_000
    sent_ms: dict[str, float] = field(default_factory=dict)  # user → when the message was handed over
    replied_ms: dict[str, float] = field(default_factory=dict)  # user → the simulator's time of the reply
    failed: int = 0
    _since: int = 0
    _next_user: int = 0

    async def offer(self, rate: float, seconds: float) -> list[str]:
        """Send `rate` messages/s for `seconds`; returns the users who wrote (in order)."""
        total = int(rate * seconds)
        users = [str(self.user_base + self._next_user + i) for i in range(total)]
        self._next_user += total
        start = time.perf_counter()
        tasks = []
        for i, user in enumerate(users):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._one(user)))
        await asyncio.gather(*tasks)
        return users

    async def _one(self, user: str) -> None:
        self.sent_ms[user] = time.time() * 1000
        try:
            url = f"{self.sim_url}/_sim/users/{self.oa_key}/{user}/text"
            async with self.http.post(url, json={"text": self.text}) as r:
                await r.read()
                if r.status != 200:
                    self.failed += 1
        except aiohttp.ClientError:
            self.failed += 1

    async def collect(self, users: list[str], timeout: float = 60.0) -> None:
        """Read the simulator's message journal until every one of `users` got a reply (or timeout)."""
        deadline = time.monotonic() + timeout
        while any(u not in self.replied_ms for u in users) and time.monotonic() < deadline:
            url = f"{self.sim_url}/_sim/messages?oa_key={self.oa_key}&since={self._since}&limit=5000"
            async with self.http.get(url) as r:
                page = await r.json()
            for m in page["items"]:
                user = str(m["user_id"])
                if user in self.sent_ms and user not in self.replied_ms:
                    self.replied_ms[user] = float(m["sent_time_ms"])
            self._since = page.get("next_since", self._since)
            if not page["items"]:
                await asyncio.sleep(0.1)

    def latencies(self, users: list[str]) -> list[float]:
        return [self.replied_ms[u] - self.sent_ms[u] for u in users if u in self.replied_ms]

    def summary(self, users: list[str], name: str) -> dict[str, float]:
        """`{name}_p50_ms`, `{name}_p99_ms` and `{name}_missing` of these users' replies."""
        lat = self.latencies(users)
        return {
            f"{name}_p50_ms": round(statistics.median(lat), 1) if lat else -1.0,
            f"{name}_p99_ms": round(percentile(lat, 0.99), 1) if lat else -1.0,
            f"{name}_missing": float(len(users) - len(lat)),
        }
