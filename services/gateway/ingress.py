"""Gateway ingress: the one webhook endpoint of all OAs.

Answers 200 only once the event is durable: acknowledged by Kafka (acks=all) or, when Kafka does not
answer in time, appended and fsynced to the local spool, which a background task drains to Kafka in
order. While the spool holds records, new events join it too, so that no event overtakes an older
one. 401 bad signature or stale timestamp, 400 malformed, 413 too large, 503 when neither Kafka nor
the spool can take the event.

The ingress owns its producer (`KafkaSink`, not the kit's producer context) so that it starts and
stops while Kafka is unreachable: it is started in the background (webhooks are spooled until it is
up), stopping it is bounded, and the drainer publishes spooled records as ordered batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from aiokafka.errors import KafkaConnectionError
from prometheus_client import Counter, Gauge

from contracts import citizen_key, utcnow
from contracts.topics import ZALO_EVENTS
from servicekit.logs import pii
from servicekit.metrics import KitMetrics
from servicekit.producer import ProducerSession
from servicekit.runner import serve
from servicekit.service import KIT, Kit, service_app
from services.gateway.domain import (
    RETRY_HEADER,
    SIGNATURE_HEADER,
    RecentIds,
    WebhookRejected,
    check_freshness,
    expected_signature,
    normalise,
    oa_id_of,
    parse_body,
    signature_matches,
    timestamp_ms,
)
from services.gateway.settings import IngressSettings
from services.gateway.spool import Spool

log = logging.getLogger("gateway.ingress")


class IngressMetrics:
    def __init__(self, kit: Kit) -> None:
        self.webhooks = Counter(
            "zan_webhooks_total",
            "Webhook requests by outcome (accepted, spooled, duplicate, bad_signature, stale, malformed,"
            " too_large, unavailable).",
            ["outcome"],
            registry=kit.prometheus,
        )
        self.spool_bytes = Gauge(
            "zan_webhook_spool_bytes", "Bytes of accepted webhooks waiting in the spool.", registry=kit.prometheus
        )
        self.retries = Counter(
            "zan_webhook_zalo_retries_total",
            "Webhooks that Zalo marked as retries (num_retry).",
            registry=kit.prometheus,
        )


class KafkaSink:
    """The ingress's producer: raw records to zalo.events.v1 with acks=all and idempotence, a bounded
    wait per record, ordered batches for the drainer (records are handed to aiokafka one after the
    other, and aiokafka keeps one batch in flight per partition)."""

    def __init__(self, settings: IngressSettings, metrics: KitMetrics) -> None:
        self.topic = settings.topic(ZALO_EVENTS)
        self.ready = False
        self._metrics = metrics
        self._session = ProducerSession(settings.kafka(), settings.service_name)

    async def start_in_background(self) -> None:
        """Start, retrying until Kafka answers (meanwhile every webhook is spooled)."""
        attempt = 0
        while True:
            try:
                await self._session.start()
            except Exception as exc:
                attempt += 1
                if attempt == 1 or attempt % 30 == 0:
                    log.warning("kafka unreachable; spooling until it answers", extra={"error": type(exc).__name__})
                await asyncio.sleep(min(5.0, 0.2 * attempt))
                continue
            self.ready = True
            if attempt:
                log.info("kafka producer started", extra={"attempts": attempt + 1})
            return

    async def publish(self, key: bytes, value: bytes, timeout_s: float) -> bool:
        """True once Kafka acknowledged the record; False when it did not within `timeout_s`."""
        return await self.publish_batch([(key, value)], timeout_s)

    async def publish_batch(self, records: list[tuple[bytes, bytes]], timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        futures: list[asyncio.Future] = []
        async with self._session.using() as producer:
            try:
                for key, value in records:
                    # send() only waits when topic metadata is missing or the buffer is full; then it is bounded too.
                    sent = producer.send(self.topic, value, key=key)
                    futures.append(await asyncio.wait_for(sent, max(deadline - loop.time(), 0.001)))
            except TimeoutError:
                _consume_later(futures)
                return False
            done, pending = await asyncio.wait(futures, timeout=max(deadline - loop.time(), 0.001))
            if pending:
                _consume_later(futures)
                return False
            for future in done:
                future.result()  # a delivery error raises: not durable
        self._metrics.published.labels(ZALO_EVENTS).inc(len(records))
        return True

    async def stop(self, grace_s: float) -> None:
        """Flush and close, but never wait forever: aiokafka keeps a batch whose partition leader is
        known but unreachable until it can be sent (batches only expire without a leader), so `stop()`
        hangs while Kafka is down. By now every webhook handler has finished (aiohttp runs cleanup
        after them), so each unsent record was either acknowledged earlier or timed out and was
        spooled: failing the leftovers loses nothing."""
        self.ready = False
        producer = self._session.current
        stopping = asyncio.create_task(self._session.stop())
        done, _ = await asyncio.wait({stopping}, timeout=grace_s)
        if not done:
            log.warning("kafka unreachable at shutdown: dropping unsent copies (all are in the spool)")
            accumulator = getattr(producer, "_message_accumulator", None)
            if accumulator is not None:  # aiokafka <0.15 internals; see the docstring
                accumulator.fail_all(KafkaConnectionError("shutting down while Kafka is unreachable"))
                _consume_failures(accumulator)
            else:
                stopping.cancel()
        await asyncio.gather(stopping, return_exceptions=True)


def _consume_later(futures: list[asyncio.Future]) -> None:
    """A record we stopped waiting for may still be delivered or fail later: nobody reads that result."""
    for future in futures:
        future.add_done_callback(lambda f: f.cancelled() or f.exception())


def _consume_failures(accumulator: object) -> None:
    """Mark the failed batches' internal waiters as seen (nobody awaits them any more)."""
    batches = [b for queue in getattr(accumulator, "_batches", {}).values() for b in queue]
    for batch in [*batches, *getattr(accumulator, "_pending_batches", ())]:
        waiter = getattr(batch, "_drain_waiter", None)
        if isinstance(waiter, asyncio.Future) and waiter.done() and not waiter.cancelled():
            waiter.exception()


@dataclass
class Ingress:
    settings: IngressSettings
    kit: Kit
    sink: KafkaSink
    spool: Spool
    recent: RecentIds
    metrics: IngressMetrics
    clock: Callable[[], datetime]


INGRESS = web.AppKey("ingress", Ingress)
SINK = web.AppKey("kafka_sink", KafkaSink)
STOP_GRACE_S = 5.0


def create_app(settings: IngressSettings, clock: Callable[[], datetime] = utcnow) -> web.Application:
    app = service_app(
        settings,
        uses_mongo=False,
        uses_producer=False,
        kafka_gates_readiness=False,
        extra_contexts=[_sink_ctx, _ingress_ctx(clock)],
    )
    app.router.add_post(settings.webhook_path, webhook)
    return app


async def _sink_ctx(app: web.Application) -> AsyncIterator[None]:
    """The producer, started in the background: the ingress must come up (and spool) without Kafka."""
    kit = app[KIT]
    assert isinstance(kit.settings, IngressSettings)
    sink = KafkaSink(kit.settings, kit.metrics)
    app[SINK] = sink
    starter = asyncio.create_task(sink.start_in_background())
    yield
    starter.cancel()
    await asyncio.gather(starter, return_exceptions=True)
    await sink.stop(STOP_GRACE_S)


def _ingress_ctx(clock: Callable[[], datetime]):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        kit = app[KIT]
        settings = kit.settings
        assert isinstance(settings, IngressSettings)
        spool = Spool(settings.spool_dir)
        spool.open()
        state = Ingress(
            settings,
            kit,
            app[SINK],
            spool,
            RecentIds(settings.dedupe_window_s, settings.dedupe_max_entries),
            IngressMetrics(kit),
            clock,
        )
        app[INGRESS] = state
        kit.checks["spool"] = _spool_writable(spool)
        drainer = asyncio.create_task(_drain_forever(state))
        yield
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        if state.sink.ready and state.spool.pending():
            with contextlib.suppress(Exception):  # best effort before the producer closes
                await _drain_once(state, settings.publish_timeout_s)

    return ctx


def _spool_writable(spool: Spool):
    async def check() -> bool:
        return spool.directory.exists()

    return check


async def webhook(request: web.Request) -> web.Response:
    state = request.app[INGRESS]
    try:
        raw = await _read_capped(request, state.settings.max_body_bytes)
        event, key = _verify(state, request, raw)
    except WebhookRejected as rej:
        state.metrics.webhooks.labels(rej.reason).inc()
        log.info("webhook rejected", extra={"reason": rej.reason, "detail": rej.detail})
        return web.json_response({"error": rej.reason, "detail": rej.detail}, status=rej.status)

    if request.headers.get(RETRY_HEADER):
        state.metrics.retries.inc()
    now_s = time.monotonic()
    if state.recent.contains(event.event_id, now_s):
        state.metrics.webhooks.labels("duplicate").inc()
        return web.json_response({"status": "duplicate"})

    value = event.model_dump_json().encode()
    outcome = await _make_durable(state, key.encode(), value)
    if outcome == "unavailable":
        state.metrics.webhooks.labels("unavailable").inc()
        return web.json_response({"error": "unavailable"}, status=503)
    state.recent.add(event.event_id, now_s)
    state.metrics.webhooks.labels(outcome).inc()
    log.info(
        "webhook accepted",
        extra={"event": event.event_name, "oa": event.oa_key, "user": pii(event.user_id), "outcome": outcome},
    )
    return web.json_response({"status": outcome})


async def _read_capped(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise WebhookRejected(413, "too_large", f"body over {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise WebhookRejected(413, "too_large", f"body over {limit} bytes")
    return raw


def _verify(state: Ingress, request: web.Request, raw: bytes):
    body = parse_body(raw)
    registry = state.kit.oa_registry
    oa = registry.by_id(oa_id_of(body) or "")
    secret = state.settings.oa_secret_keys.get(oa.key) if oa else None
    secret_value = (secret or state.settings.oa_secret_key).get_secret_value()
    app_id = str(body.get("app_id") or registry.app_id)
    if app_id != registry.app_id:
        raise WebhookRejected(401, "bad_signature", "unknown app_id")
    expected = expected_signature(app_id, raw, str(body["timestamp"]), secret_value)
    if not signature_matches(request.headers.get(SIGNATURE_HEADER), expected):
        raise WebhookRejected(401, "bad_signature", "signature does not match")
    now = state.clock()
    check_freshness(timestamp_ms(body), now, state.settings.max_event_age_s, state.settings.max_clock_skew_s)
    event = normalise(body, oa, registry, now, state.settings.service_name)
    if oa is None:
        log.warning("event for an OA missing from the registry", extra={"event": event.event_name})
    return event, citizen_key(event.oa_id, event.user_id)


async def _make_durable(state: Ingress, key: bytes, value: bytes) -> str:
    """'accepted' (Kafka acked), 'spooled' (fsynced locally) or 'unavailable'."""
    if state.sink.ready and not state.spool.pending():
        try:
            if await state.sink.publish(key, value, state.settings.publish_timeout_s):
                return "accepted"
            log.warning("kafka did not acknowledge in time, spooling")
        except Exception as exc:
            log.warning("kafka refused the record, spooling", extra={"error": type(exc).__name__})
    try:
        await state.spool.append(key, value)
    except Exception as exc:
        log.error("spool append failed", extra={"error": type(exc).__name__})
        return "unavailable"
    state.metrics.spool_bytes.set(state.spool.pending_bytes)
    return "spooled"


async def _drain_once(state: Ingress, timeout_s: float = 10.0) -> int:
    async def publish(batch: list[tuple[bytes, bytes]]) -> None:
        if not await state.sink.publish_batch(batch, timeout_s):
            raise TimeoutError("kafka did not acknowledge the spooled batch")

    sent = await state.spool.drain(publish)
    state.metrics.spool_bytes.set(state.spool.pending_bytes)
    return sent


async def _drain_forever(state: Ingress) -> None:
    while True:
        if state.spool.pending() and state.sink.ready:
            try:
                sent = await _drain_once(state)
                if sent:
                    log.info("spool drained", extra={"records": sent})
                    continue
            except Exception as exc:
                log.warning("spool drain paused: kafka unavailable", extra={"error": type(exc).__name__})
        await asyncio.sleep(state.settings.spool_drain_interval_s)


def main() -> None:
    settings = IngressSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
