"""Webhook delivery the way Zalo does it: signed POSTs, the retry ladder, unsubscribe after the last.

One ``WebhookDispatcher`` per app: it owns a retry scheduler (a heap of due attempts served by one
background task) and the attempts in flight. Every delivery is a record in the deliveries journal,
updated in place as attempts happen.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from zalosim import rules
from zalosim.clock import SimClock
from zalosim.registry import OaEntry
from zalosim.state import SimState

log = logging.getLogger(__name__)


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"  # the last retry failed: the app was unsubscribed
    NOT_SENT = "not_sent_unsubscribed"  # the app was already unsubscribed


@dataclass(slots=True)
class _Delivery:
    record: dict[str, Any]
    body: bytes
    signature: str


class WebhookDispatcher:
    def __init__(
        self,
        state: SimState,
        session: aiohttp.ClientSession,
        clock: SimClock,
        *,
        secret_for: Callable[[str], str],
        timeout_seconds: float,
        time_scale: float,
    ) -> None:
        self._state = state
        self._session = session
        self._clock = clock
        self._secret_for = secret_for
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._time_scale = time_scale
        self._heap: list[tuple[float, int, _Delivery, int]] = []
        self._order = itertools.count()
        self._wakeup = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    # -- public API -----------------------------------------------------------------------------

    def prepare(self, oa: OaEntry, event: dict[str, Any], *, user_id: str | None, msg_id: str | None) -> _Delivery:
        """Sign the event and journal it as a pending delivery."""
        app_id = self._state.registry.app_id
        body = rules.encode_event(event)
        signature = rules.signature_header_value(app_id, body, str(event["timestamp"]), self._secret_for(oa.key))
        record = self._state.journals.deliveries.append(
            {
                "delivery_id": self._state.ids.short(12),
                "event_name": event["event_name"],
                "oa_key": oa.key,
                "oa_id": oa.oa_id,
                "user_id": user_id,
                "msg_id": msg_id,
                "timestamp": str(event["timestamp"]),
                "url": self._state.webhook.url,
                "status": DeliveryStatus.PENDING,
                "attempts": [],
                "next_retry_at_ms": None,
                "signature": signature,
                "body": body.decode("utf-8"),
            }
        )
        return _Delivery(record=record, body=body, signature=signature)

    async def deliver_now(
        self, oa: OaEntry, event: dict[str, Any], *, user_id: str | None, msg_id: str | None
    ) -> dict[str, Any]:
        """Make the first attempt inline (retries go to the scheduler); returns the journal record."""
        delivery = self.prepare(oa, event, user_id=user_id, msg_id=msg_id)
        await self._attempt(delivery, 0)
        return delivery.record

    def enqueue(self, oa: OaEntry, event: dict[str, Any], *, user_id: str | None, msg_id: str | None) -> dict[str, Any]:
        """Deliver in the background (echoes must not slow the API answer)."""
        delivery = self.prepare(oa, event, user_id=user_id, msg_id=msg_id)
        self._schedule(delivery, 0, 0.0)
        return delivery.record

    def pending_retries(self) -> int:
        return len(self._heap)

    def retry_now(self) -> int:
        """Make every scheduled retry due immediately; returns how many."""
        now = asyncio.get_running_loop().time()
        self._heap = [(now, order, delivery, n) for _, order, delivery, n in self._heap]
        heapq.heapify(self._heap)
        self._wakeup.set()
        return len(self._heap)

    async def run(self) -> None:
        """The scheduler: start each attempt when it falls due."""
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            if not self._heap:
                await self._wakeup.wait()
                continue
            delay = self._heap[0][0] - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                continue
            _, _, delivery, num_retry = heapq.heappop(self._heap)
            self._spawn(self._attempt(delivery, num_retry))

    async def close(self) -> None:
        """Cancel attempts in flight; scheduled retries are dropped with the process."""
        tasks = list(self._inflight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def clear(self) -> None:
        """Forget scheduled retries (used by reset)."""
        self._heap.clear()

    # -- internals ------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def _schedule(self, delivery: _Delivery, num_retry: int, delay: float) -> None:
        due = asyncio.get_running_loop().time() + delay
        heapq.heappush(self._heap, (due, next(self._order), delivery, num_retry))
        self._wakeup.set()

    async def _attempt(self, delivery: _Delivery, num_retry: int) -> None:
        record = delivery.record
        target = self._state.webhook
        if not target.subscribed:
            record["status"] = DeliveryStatus.NOT_SENT
            record["next_retry_at_ms"] = None
            return
        headers = {"Content-Type": "application/json", rules.SIGNATURE_HEADER: delivery.signature}
        if num_retry:
            headers[rules.RETRY_HEADER] = str(num_retry)
        loop = asyncio.get_running_loop()
        started = loop.time()
        http_status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(
                target.url, data=delivery.body, headers=headers, timeout=self._timeout
            ) as response:
                http_status = response.status
                await response.read()
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = http_status == 200 and error is None
        record["url"] = target.url
        record["attempts"].append(
            {
                "num_retry": num_retry,
                "at_ms": self._clock.now_ms(),
                "http_status": http_status,
                "error": error,
                "duration_ms": round((loop.time() - started) * 1000, 1),
                "ok": ok,
            }
        )
        self._state.stats["webhook.attempts"] += 1
        if ok:
            record["status"] = DeliveryStatus.DELIVERED
            record["next_retry_at_ms"] = None
            self._state.stats["webhook.delivered"] += 1
            return
        self._state.stats["webhook.failed_attempts"] += 1
        if num_retry < len(rules.RETRY_LADDER_SECONDS):
            delay = rules.RETRY_LADDER_SECONDS[num_retry] * self._time_scale
            record["status"] = DeliveryStatus.RETRYING
            record["next_retry_at_ms"] = self._clock.now_ms() + int(delay * 1000)
            self._schedule(delivery, num_retry + 1, delay)
            return
        record["status"] = DeliveryStatus.FAILED
        record["next_retry_at_ms"] = None
        if target.subscribed:
            target.subscribed = False
            target.unsubscribed_at = self._clock.now()
            log.warning("webhook: last retry of %s failed, app unsubscribed", record["delivery_id"])
