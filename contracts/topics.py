"""The topic catalogue, read from topics.toml (the one declarative list)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from contracts.citizen import CitizenIntent, HandoffEvent
from contracts.news import BroadcastLifecycle
from contracts.outbound import DeliveryOutcome, OutboundCommand
from contracts.reports import CaseLifecycle, ReportSubmitted, StatusRequested
from contracts.zalo import ZaloEvent

TOPICS_FILE = Path(__file__).with_name("topics.toml")

MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (
        ZaloEvent,
        OutboundCommand,
        DeliveryOutcome,
        CitizenIntent,
        HandoffEvent,
        ReportSubmitted,
        StatusRequested,
        CaseLifecycle,
        BroadcastLifecycle,
    )
}


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, record model and broker settings."""

    name: str
    model_name: str | None
    partitions: int
    retention_ms: int
    cleanup_policy: str
    min_insync_replicas: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str
    dead_letter_of: str | None = None
    scale_on_lag: bool = True  # False: a backlog here is paced by design, autoscaling must ignore it

    @property
    def model(self) -> type[BaseModel] | None:
        return MODELS[self.model_name] if self.model_name else None

    def broker_config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


@cache
def load_topics(path: Path = TOPICS_FILE) -> tuple[TopicSpec, ...]:
    """Every topic of the system, each followed by its dead-letter topic."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults, dlq = doc["defaults"], doc["dead_letter"]
    specs: list[TopicSpec] = []
    for t in doc["topic"]:
        if t["model"] not in MODELS:
            raise ValueError(f"topic {t['name']}: unknown model {t['model']}")
        spec = TopicSpec(
            name=t["name"],
            model_name=t["model"],
            partitions=t.get("partitions", defaults["partitions"]),
            retention_ms=t.get("retention_ms", defaults["retention_ms"]),
            cleanup_policy=t.get("cleanup_policy", defaults["cleanup_policy"]),
            min_insync_replicas=defaults["min_insync_replicas"],
            producers=tuple(t["producers"]),
            consumers=tuple(t["consumers"]),
            description=t["description"],
            scale_on_lag=t.get("scale_on_lag", True),
        )
        specs.append(spec)
        specs.append(
            TopicSpec(
                name=spec.name + dlq["suffix"],
                model_name=None,
                partitions=dlq["partitions"],
                retention_ms=dlq["retention_ms"],
                cleanup_policy="delete",
                min_insync_replicas=defaults["min_insync_replicas"],
                producers=spec.consumers,
                consumers=("ops",),
                description=f"Records of {spec.name} that a consumer could not handle, with the error in headers.",
                dead_letter_of=spec.name,
            )
        )
    return tuple(specs)


def topic(name: str) -> TopicSpec:
    """The spec of one topic by name."""
    for spec in load_topics():
        if spec.name == name:
            return spec
    raise KeyError(name)


def dead_letter_topic(name: str) -> str:
    """Name of the dead-letter topic of `name`."""
    return name + tomllib.loads(TOPICS_FILE.read_text(encoding="utf-8"))["dead_letter"]["suffix"]


ZALO_EVENTS = "zalo.events.v1"
ZALO_OUTBOUND = "zalo.outbound.v1"
ZALO_OUTBOUND_BULK = "zalo.outbound.bulk.v1"
ZALO_DELIVERY = "zalo.delivery.v1"
CITIZEN_INTENTS = "citizen.intents.v1"
CONVERSATION_HANDOFFS = "conversation.handoffs.v1"
REPORTS_SUBMITTED = "reports.submitted.v1"
REPORTS_STATUS_REQUESTS = "reports.status-requests.v1"
REPORTS_LIFECYCLE = "reports.lifecycle.v1"
NEWS_BROADCASTS = "news.broadcasts.v1"


def outbound_topic(lane: str) -> str:
    """Where a command of this rate-limit lane goes: campaign traffic has a topic of its own, so that
    a campaign command waiting for a rate slot never delays a reply queued behind it."""
    return ZALO_OUTBOUND_BULK if lane == "campaign" else ZALO_OUTBOUND
