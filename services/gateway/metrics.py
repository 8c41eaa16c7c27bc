"""Metrics of the gateway egress and the follower sync (registered on the kit's registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from servicekit.metrics import LATENCY_BUCKETS

WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class EgressMetrics:
    """Label values are bounded: OA keys (registry), lanes, actions, statuses, Zalo codes, endpoints."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sends = Counter(
            "zan_egress_commands_total",
            "Outbound commands finished, by OA, lane, action, status (sent/failed/skipped) and Zalo error code.",
            ["oa", "lane", "action", "status", "zalo_error"],
            registry=registry,
        )
        self.attempts = Counter(
            "zan_egress_zalo_attempts_total",
            "Zalo calls made for commands, by OA and result reason (ok, transient, rate_limited, token …).",
            ["oa", "reason"],
            registry=registry,
        )
        self.replays = Counter(
            "zan_egress_replays_total",
            "Redelivered commands: republished (outcome already recorded) or taken_over (interrupted send).",
            ["kind"],
            registry=registry,
        )
        self.zalo_latency = Histogram(
            "zan_zalo_call_duration_seconds",
            "Latency of Zalo HTTP calls by endpoint and outcome (ok, zalo_error, http_error, timeout …).",
            ["endpoint", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.token_refreshes = Counter(
            "zan_zalo_token_refreshes_total",
            "Access token refreshes by OA and outcome (ok, failed: try later, rejected: refresh token dead).",
            ["oa", "outcome"],
            registry=registry,
        )
        self.locked_out = Gauge(
            "zan_zalo_oa_locked_out",
            "1 while an OA has no usable refresh token (needs a new one from an OA admin).",
            ["oa"],
            registry=registry,
        )
        self.rate_waits = Counter(
            "zan_egress_rate_limit_waits_total",
            "Times a Zalo call waited for the next rate window, by lane.",
            ["lane"],
            registry=registry,
        )
        self.rate_wait_seconds = Histogram(
            "zan_egress_rate_limit_wait_seconds",
            "Time spent waiting for a rate slot, by lane.",
            ["lane"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.follows_synced = Counter(
            "zan_sync_follow_events_total",
            "Follow events published by the follower sync, by OA.",
            ["oa"],
            registry=registry,
        )
