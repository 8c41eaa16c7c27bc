"""Contracts of Zalo An ninh: one pydantic model per topic, shared by every service."""

from contracts.citizen import CitizenIntent, HandoffEvent, IntentEntities, NewsPreference
from contracts.envelope import Envelope, citizen_key, utcnow
from contracts.news import BroadcastLifecycle, ChannelProgress
from contracts.outbound import (
    Article,
    ArticleBlock,
    BroadcastTarget,
    Button,
    DeliveryOutcome,
    ListElement,
    Message,
    OutboundCommand,
)
from contracts.reports import CaseLifecycle, ReportAttachment, ReportSubmitted, StatusRequested
from contracts.topics import load_topics, topic
from contracts.zalo import Attachment, Location, ZaloEvent

__all__ = [
    "Article",
    "ArticleBlock",
    "Attachment",
    "BroadcastLifecycle",
    "BroadcastTarget",
    "Button",
    "CaseLifecycle",
    "ChannelProgress",
    "CitizenIntent",
    "DeliveryOutcome",
    "Envelope",
    "HandoffEvent",
    "IntentEntities",
    "ListElement",
    "Location",
    "Message",
    "NewsPreference",
    "OutboundCommand",
    "ReportAttachment",
    "ReportSubmitted",
    "StatusRequested",
    "ZaloEvent",
    "citizen_key",
    "load_topics",
    "topic",
    "utcnow",
]
