"""What handlers, API routes and background tasks of the reports service are given (one place for the
typed app state, as the service shape asks), and the service's own metrics."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from servicekit.registry import Registry
from services.reports.caseindex import CaseIndex
from services.reports.crypto import CitizenIndex, ReporterCipher
from services.reports.domain import RoutingRules
from services.reports.settings import ReportsSettings
from services.reports.store import Store

PRODUCER_NAME = "reports"

ACK_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


class ReportsMetrics:
    """Service metrics (names listed in docs/reports.md). Gauges are refreshed from the case index."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cases_created = Counter(
            "zan_reports_cases_created_total",
            "Cases created from submissions, by kind, unit and priority.",
            ["kind", "unit", "priority"],
            registry=registry,
        )
        self.duplicate_submissions = Counter(
            "zan_reports_duplicate_submissions_total",
            "Submissions that already had their case (redeliveries, double taps).",
            registry=registry,
        )
        self.cases = Gauge(
            "zan_reports_cases",
            "Cases stored, by kind, unit and status.",
            ["kind", "unit", "status"],
            registry=registry,
        )
        self.time_to_ack = Histogram(
            "zan_reports_time_to_acknowledge_seconds",
            "From intake to an officer's acknowledgement, by priority.",
            ["priority"],
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.open_urgent = Gauge(
            "zan_reports_open_urgent_cases", "Urgent cases not resolved or rejected.", registry=registry
        )
        self.urgent_unacknowledged = Gauge(
            "zan_reports_urgent_unacknowledged",
            "Urgent cases still 'received' longer than REPORTS_URGENT_ACK_THRESHOLD_S (default 600 s).",
            registry=registry,
        )
        self.urgent_unacknowledged_oldest = Gauge(
            "zan_reports_urgent_unacknowledged_oldest_seconds",
            "Age of the oldest urgent case still 'received' (0 when there is none).",
            registry=registry,
        )
        self.transitions = Counter(
            "zan_reports_transitions_total",
            "Officer changes applied, by change and resulting status.",
            ["change", "status"],
            registry=registry,
        )
        self.attachment_downloads = Counter(
            "zan_reports_attachment_downloads_total",
            "Attachment download attempts, by outcome (stored, retry, failed, rejected, skipped).",
            ["outcome"],
            registry=registry,
        )
        self.attachment_failures = Counter(
            "zan_reports_attachment_download_failures_total",
            "Failed attachment download attempts, by reason (http, network, too_large, type, host).",
            ["reason"],
            registry=registry,
        )
        self.attachments_queued = Gauge(
            "zan_reports_attachments_queued", "Attachments waiting for a (next) download attempt.", registry=registry
        )
        self.notices_sent = Counter(
            "zan_reports_notices_sent_total",
            "Notice send attempts published, by kind and trigger (first, interaction, retry).",
            ["kind", "trigger"],
            registry=registry,
        )
        self.notice_outcomes = Counter(
            "zan_reports_notice_outcomes_total",
            "Delivery outcomes of notices, by resulting state (delivered, waiting, retry, failed).",
            ["state"],
            registry=registry,
        )
        self.notices_pending = Gauge(
            "zan_reports_notices_pending",
            "Notices not yet delivered, by state (sent = awaiting outcome, waiting = citizen out of the window).",
            ["state"],
            registry=registry,
        )
        self.status_requests = Counter(
            "zan_reports_status_requests_total",
            "Status requests answered, by outcome (found, not_found, list).",
            ["outcome"],
            registry=registry,
        )
        self.audit_failures = Counter(
            "zan_reports_audit_write_failures_total",
            "API calls refused because their audit entry could not be written.",
            registry=registry,
        )
        self.index_cases = Gauge(
            "zan_reports_index_cases", "Cases held by this replica's in-memory list index.", registry=registry
        )


@dataclass
class Deps:
    """The service's dependencies, built once in app.make_deps."""

    settings: ReportsSettings
    registry: Registry
    rules: RoutingRules
    store: Store
    cipher: ReporterCipher
    citizens: CitizenIndex
    index: CaseIndex
    metrics: ReportsMetrics
    clock: Callable[[], datetime]
    http: aiohttp.ClientSession
    rng: Callable[[], float] = random.random
    attachments_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def unit_name(self, unit: str) -> str:
        try:
            return self.registry.by_key(unit).display_name
        except KeyError:
            return unit


DEPS = web.AppKey("reports_deps", Deps)
