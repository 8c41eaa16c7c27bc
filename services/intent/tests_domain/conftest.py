"""Fixtures for the pure conversation tests: the shipped registry and knowledge base, and a chat driver.

The tests never call the classifier: they hand `converse` stand-ins with the same fields as
`services.intent.nlu.understand.Understanding`, so they pin the conversation's behaviour alone.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.intent.domain import (
    Conversation,
    Directory,
    GeoPoint,
    Inbound,
    InboundKind,
    Turn,
    TurnContext,
    converse,
)
from services.intent.knowledge import KnowledgeBase, load_knowledge

CONFIG = Path(__file__).resolve().parents[3] / "config"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeEntities:
    ward: str | None = None
    unit: str | None = None
    case_code: str | None = None
    subcases: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FakeUnderstanding:
    intent: str
    confidence: float = 0.9
    alternatives: tuple[tuple[str, float], ...] = ()
    entities: FakeEntities = field(default_factory=FakeEntities)
    normalized: str = ""


class Chat:
    """Drives one citizen's conversation turn by turn, with a clock the test moves."""

    def __init__(self, directory: Directory, knowledge: KnowledgeBase, oa_key: str) -> None:
        self.directory = directory
        self.knowledge = knowledge
        self.oa_key = oa_key
        self.now = START
        self.state = Conversation.start(oa_key, "user-1")
        self._ids = itertools.count(1)

    def context(self) -> TurnContext:
        return TurnContext(now=self.now, oa_key=self.oa_key, directory=self.directory, knowledge=self.knowledge)

    def next_id(self) -> str:
        return f"evt-{next(self._ids)}"

    def send(self, inbound: Inbound, understood: FakeUnderstanding | None = None) -> Turn:
        turn = converse(self.state, inbound, understood, self.context())
        self.state = turn.state
        return turn

    def say(
        self,
        text: str,
        intent: str = "out_of_scope",
        confidence: float = 0.9,
        alternatives: tuple[tuple[str, float], ...] = (),
        ward: str | None = None,
        unit: str | None = None,
        case_code: str | None = None,
        subcases: frozenset[str] = frozenset(),
    ) -> Turn:
        understood = FakeUnderstanding(
            intent=intent,
            confidence=confidence,
            alternatives=alternatives,
            entities=FakeEntities(ward=ward, unit=unit, case_code=case_code, subcases=subcases),
        )
        return self.send(Inbound(event_id=self.next_id(), kind=InboundKind.TEXT, text=text), understood)

    def press(self, payload: str) -> Turn:
        return self.send(Inbound(event_id=self.next_id(), kind=InboundKind.BUTTON, text=payload))

    def share_location(self, lat: float, lon: float, place_name: str | None = None) -> Turn:
        inbound = Inbound(
            event_id=self.next_id(),
            kind=InboundKind.LOCATION,
            location=GeoPoint(lat=lat, lon=lon),
            place_name=place_name,
        )
        return self.send(inbound)

    def send_image(self, *urls: str) -> Turn:
        return self.send(Inbound(event_id=self.next_id(), kind=InboundKind.IMAGE, urls=urls))

    def event(self, kind: str) -> Turn:
        return self.send(Inbound(event_id=self.next_id(), kind=kind))

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture(scope="session")
def directory() -> Directory:
    registry = json.loads((CONFIG / "oa-registry.json").read_text(encoding="utf-8"))
    mergers = json.loads((CONFIG / "ward-mergers.json").read_text(encoding="utf-8"))
    return Directory.from_config(registry, mergers)


@pytest.fixture
def chat(directory: Directory, knowledge: KnowledgeBase) -> Callable[..., Chat]:
    def make(oa_key: str = "taythanh") -> Chat:
        return Chat(directory, knowledge, oa_key)

    return make


@pytest.fixture
def understanding() -> Callable[..., FakeUnderstanding]:
    def make(intent: str, confidence: float = 0.9, **entities: object) -> FakeUnderstanding:
        return FakeUnderstanding(intent=intent, confidence=confidence, entities=FakeEntities(**entities))

    return make
