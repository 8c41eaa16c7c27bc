"""The standard metrics of every service (one definition; docs/metrics.md lists them).

Names carry the `zan_` namespace and a unit suffix; label sets are fixed. The registry is injected
so tests and several apps in one process do not collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class KitMetrics:
    """Consumer, producer and HTTP metrics shared by all services."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.consumed = Counter(
            "zan_events_consumed_total", "Records handled successfully.", ["topic", "group"], registry=registry
        )
        self.duplicates = Counter(
            "zan_events_duplicate_total",
            "Records skipped because their event_id was already handled (redeliveries).",
            ["topic", "group"],
            registry=registry,
        )
        self.failed = Counter(
            "zan_events_failed_total",
            "Handler attempts that raised, by error class.",
            ["topic", "group", "error"],
            registry=registry,
        )
        self.retried = Counter(
            "zan_events_retried_total", "Handler retries after a failure.", ["topic", "group"], registry=registry
        )
        self.dead_lettered = Counter(
            "zan_events_dead_lettered_total",
            "Records sent to the dead-letter topic, by reason (malformed, permanent, exhausted).",
            ["topic", "group", "reason"],
            registry=registry,
        )
        self.handler_latency = Histogram(
            "zan_handler_duration_seconds",
            "Time to handle one record, publishing included.",
            ["topic", "group"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "zan_consumer_lag_messages",
            "Records between the committed position and the partition end.",
            ["topic", "partition", "group"],
            registry=registry,
        )
        self.published = Counter(
            "zan_events_published_total", "Records produced and acknowledged.", ["topic"], registry=registry
        )
        self.http_requests = Counter(
            "zan_http_requests_total",
            "HTTP requests served, by route and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_latency = Histogram(
            "zan_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ready = Gauge("zan_ready", "1 when /readyz is green.", registry=registry)


class MongoCommandMetrics:
    """A PyMongo command listener: latency of every MongoDB command by command name and collection.

    Where a service's time goes on the database (per-message writes are the first suspect when a
    consumer lags), without logging anything of the documents themselves.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "zan_mongo_command_duration_seconds",
            "MongoDB command latency, by command and collection (failures included).",
            ["command", "collection"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._collections: dict[int, str] = {}

    def listener(self) -> object:
        from pymongo import monitoring

        metrics = self

        class _Listener(monitoring.CommandListener):
            def started(self, event: monitoring.CommandStartedEvent) -> None:
                target = event.command.get(event.command_name)
                metrics._collections[event.request_id] = target if isinstance(target, str) else ""

            def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
                metrics._observe(event.request_id, event.command_name, event.duration_micros)

            def failed(self, event: monitoring.CommandFailedEvent) -> None:
                metrics._observe(event.request_id, event.command_name, event.duration_micros)

        return _Listener()

    def _observe(self, request_id: int, command: str, micros: int) -> None:
        collection = self._collections.pop(request_id, "")
        if command in ("hello", "ismaster", "isMaster", "ping", "endSessions"):
            return
        self.latency.labels(command, collection).observe(micros / 1_000_000)
