"""Types of the conversation: what comes in, the state kept per citizen, what goes out.

All are immutable. State, inbound messages, replies and effects are pydantic models so the service can
store and publish them as JSON (`model_dump(mode="json")`) and read them back (`model_validate`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from services.intent.knowledge import KnowledgeBase

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# --- What the language-understanding step hands in ------------------------------------------------


class EntitiesLike(Protocol):
    """The entities of `services.intent.nlu.understand.Entities` that the conversation reads."""

    @property
    def ward(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def case_code(self) -> str | None: ...
    @property
    def subcases(self) -> frozenset[str]: ...


class UnderstandingLike(Protocol):
    """The fields of `services.intent.nlu.understand.Understanding` that the conversation reads."""

    @property
    def intent(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def alternatives(self) -> tuple[tuple[str, float], ...]: ...
    @property
    def entities(self) -> EntitiesLike: ...


# --- Inbound ----------------------------------------------------------------------------------------


class InboundKind(StrEnum):
    TEXT = "text"
    BUTTON = "button"  # an `oa.query.*` payload ("#...") the citizen tapped
    LOCATION = "location"
    IMAGE = "image"
    FILE = "file"
    STICKER = "sticker"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    SUBMIT_INFO = "submit_info"
    RELEASE = "release"  # control: an officer ended the human handoff


class GeoPoint(BaseModel):
    model_config = _FROZEN

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Inbound(BaseModel):
    """One event from a citizen (or a control event about them), already deduplicated by the service."""

    model_config = _FROZEN

    event_id: str = Field(min_length=1)
    # An `InboundKind` value; kept as a plain string so an unknown kind is ignored, not rejected.
    kind: str
    text: str = ""
    location: GeoPoint | None = None
    place_name: str | None = None
    urls: tuple[str, ...] = ()
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_command(self) -> bool:
        """A button payload or a typed "#..." text: handled as a command, never classified."""
        if self.kind == InboundKind.BUTTON:
            return True
        return self.kind == InboundKind.TEXT and self.text.lstrip().startswith("#")

    @property
    def command_text(self) -> str:
        raw = self.text.strip()
        return raw if raw.startswith("#") else f"#{raw}"


# --- Outbound: replies ------------------------------------------------------------------------------

ZALO_BUTTON_TYPES = {"query": "oa.query.show", "phone": "oa.open.phone", "url": "oa.open.url"}
MAX_BUTTONS = 5
MAX_TEXT = 2000


class Button(BaseModel):
    model_config = _FROZEN

    title: str = Field(min_length=1, max_length=100)
    kind: Literal["query", "phone", "url"]
    payload: str = Field(min_length=1, max_length=1000)

    @classmethod
    def query(cls, title: str, payload: str) -> Button:
        return cls(title=title, kind="query", payload=payload)

    @classmethod
    def phone(cls, title: str, number: str) -> Button:
        return cls(title=title[:100], kind="phone", payload=number)

    def to_zalo(self) -> dict[str, Any]:
        """The button as Zalo's OA API v3 expects it (zalo-oa-api.md §3.2)."""
        if self.kind == "query":
            payload: Any = self.payload
        elif self.kind == "phone":
            payload = {"phone_code": self.payload}
        else:
            payload = {"url": self.payload}
        return {"title": self.title, "type": ZALO_BUTTON_TYPES[self.kind], "payload": payload}


class Reply(BaseModel):
    """One text message to the citizen, with up to 5 buttons."""

    model_config = _FROZEN

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    buttons: tuple[Button, ...] = Field(default=(), max_length=MAX_BUTTONS)


# --- Outbound: effects ------------------------------------------------------------------------------

ReportKind = Literal["crime", "public_order"]
ReportCategory = Literal[
    "theft",
    "fraud",
    "cyber",
    "violence",
    "drugs",
    "gambling",
    "racing",
    "traffic",
    "fire_hazard",
    "noise",
    "encroachment",
    "gathering",
    "other",
]


class ObservedEntities(BaseModel):
    model_config = _FROZEN

    ward: str | None = None
    unit: str | None = None
    case_code: str | None = None
    subcases: tuple[str, ...] = ()


class IntentObserved(BaseModel):
    """A classified text message (for `citizen.intents.v1`)."""

    model_config = _FROZEN
    type: Literal["intent_observed"] = "intent_observed"
    intent: str
    confidence: float
    entities: ObservedEntities


class SubmitReport(BaseModel):
    """A completed report form, or an urgent report raised by an emergency message."""

    model_config = _FROZEN
    type: Literal["submit_report"] = "submit_report"
    submission_id: str
    kind: ReportKind
    category: ReportCategory
    description: str
    occurred_at_text: str | None = None
    place_text: str | None = None
    location: GeoPoint | None = None
    attachments: tuple[str, ...] = ()
    anonymous: bool = False
    urgent: bool = False


class StatusRequest(BaseModel):
    """The citizen asks about a case; without a code, the reports service lists the citizen's cases."""

    model_config = _FROZEN
    type: Literal["status_request"] = "status_request"
    case_code: str | None = None


class HandoffRequested(BaseModel):
    model_config = _FROZEN
    type: Literal["handoff_requested"] = "handoff_requested"
    reason: str


class HandoffReleased(BaseModel):
    model_config = _FROZEN
    type: Literal["handoff_released"] = "handoff_released"
    reason: Literal["officer", "timeout", "unfollow"]


class NewsPreference(BaseModel):
    model_config = _FROZEN
    type: Literal["news_preference"] = "news_preference"
    action: Literal["subscribe", "unsubscribe", "change_ward", "latest"]
    ward: str | None = None


class EmergencyAlert(BaseModel):
    """Alert the on-duty team now; the urgent report with the same submission id carries the details."""

    model_config = _FROZEN
    type: Literal["emergency_alert"] = "emergency_alert"
    category: ReportCategory
    oa_key: str
    submission_id: str


Effect = Annotated[
    IntentObserved
    | SubmitReport
    | StatusRequest
    | HandoffRequested
    | HandoffReleased
    | NewsPreference
    | EmergencyAlert,
    Field(discriminator="type"),
]

# --- State ------------------------------------------------------------------------------------------


class FormStep(StrEnum):
    KIND = "kind"
    DESCRIPTION = "description"
    WHEN = "when"
    WHERE = "where"
    PHOTOS = "photos"
    ANONYMOUS = "anonymous"
    CONFIRM = "confirm"


FORM_STEPS: tuple[FormStep, ...] = tuple(FormStep)


class ReportDraft(BaseModel):
    """A report form being filled in."""

    model_config = _FROZEN

    step: FormStep
    started_at: datetime
    updated_at: datetime
    kind: ReportKind | None = None
    description: str | None = None
    occurred_at_text: str | None = None
    place_text: str | None = None
    location: GeoPoint | None = None
    attachments: tuple[str, ...] = ()
    anonymous: bool | None = None


class Pending(StrEnum):
    """A question the bot asked that the next message may answer with just a ward name."""

    DIRECTORY_WARD = "directory_ward"
    NEWS_WARD = "news_ward"


# How many handled event ids the state remembers, to drop redeliveries (defence in depth).
REMEMBERED_EVENTS = 32


class Conversation(BaseModel):
    """Everything the bot remembers about one citizen of one OA."""

    model_config = _FROZEN

    oa_key: str
    user_id: str
    form: ReportDraft | None = None
    pending: Pending | None = None
    handoff_since: datetime | None = None
    handled_event_ids: tuple[str, ...] = ()

    @classmethod
    def start(cls, oa_key: str, user_id: str) -> Conversation:
        return cls(oa_key=oa_key, user_id=user_id)

    def has_handled(self, event_id: str) -> bool:
        return event_id in self.handled_event_ids

    def remember(self, event_id: str) -> Conversation:
        ids = (*self.handled_event_ids, event_id)[-REMEMBERED_EVENTS:]
        return self.model_copy(update={"handled_event_ids": ids})


# --- Organisation: OA registry and ward mergers -----------------------------------------------------


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics and punctuation: "Phường Sơn Kỳ!" -> "phuong son ky"."""
    lowered = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    bare = "".join(ch for ch in lowered if unicodedata.category(ch) != "Mn")
    return " ".join("".join(ch if ch.isalnum() else " " for ch in bare).split())


def slug(name: str) -> str:
    """A ward name as a payload argument: "Tân Sơn Nhì" -> "tansonnhi"."""
    return fold(name).replace(" ", "")


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    phone: str
    hours: str


class OaProfile(BaseModel):
    """One OA of the registry (config/oa-registry.json), as far as the conversation needs it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    display_name: str
    kind: Literal["district", "unit", "ward"]
    ward: str | None = None
    role: str | None = None
    report_unit: str | None = None
    contact: Contact


class Directory(BaseModel):
    """The OA registry plus the old-ward -> new-ward mapping, read-only."""

    model_config = ConfigDict(frozen=True)

    oas: tuple[OaProfile, ...]
    old_to_new: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    new_wards: tuple[str, ...] = ()
    mergers_effective: str | None = None

    @classmethod
    def from_config(cls, registry: Mapping[str, Any], mergers: Mapping[str, Any] | None = None) -> Directory:
        """Build from the parsed `oa-registry.json` and `ward-mergers.json` documents."""
        mergers = mergers or {}
        return cls(
            oas=tuple(OaProfile.model_validate(oa) for oa in registry["oas"]),
            old_to_new={old: tuple(new) for old, new in mergers.get("old_to_new", {}).items()},
            new_wards=tuple(mergers.get("new_wards", ())),
            mergers_effective=mergers.get("effective"),
        )

    def oa(self, key: str) -> OaProfile:
        for profile in self.oas:
            if profile.key == key:
                return profile
        raise KeyError(f"unknown OA key {key!r}")

    def ward_office(self, ward: str) -> OaProfile | None:
        """The ward OA serving a ward name (compared without diacritics)."""
        wanted = fold(ward)
        for profile in self.oas:
            if profile.kind == "ward" and profile.ward and fold(profile.ward) == wanted:
                return profile
        return None

    def unit_office(self, unit: str) -> OaProfile | None:
        """A unit or district OA by key, role, report unit or a name fragment."""
        wanted = fold(unit)
        if not wanted:
            return None
        offices = [p for p in self.oas if p.kind != "ward"]
        # An exact key wins over a role, and a role over a report unit ("qlhc" is both a unit's key
        # and the district's report unit).
        for field_of in (lambda p: p.key, lambda p: p.role, lambda p: p.report_unit):
            for profile in offices:
                if fold(field_of(profile) or "") == wanted:
                    return profile
        for profile in self.oas:
            if profile.kind == "unit" and f" {wanted} " in f" {fold(profile.display_name)} ":
                return profile
        return None

    def known_wards(self) -> tuple[str, ...]:
        """Every ward name a citizen may use: current wards, old wards and registry wards."""
        names: dict[str, str] = {}
        for name in (*self.new_wards, *self.old_to_new, *(p.ward for p in self.oas if p.ward)):
            if name:
                names.setdefault(fold(name), name)
        return tuple(names.values())

    def current_wards(self) -> tuple[str, ...]:
        """The wards that exist today: the merger's new wards, else the registry's wards."""
        if self.new_wards:
            return self.new_wards
        return tuple(p.ward for p in self.oas if p.kind == "ward" and p.ward)

    def serving_wards(self, ward: str) -> tuple[str, ...]:
        """The current ward(s) that serve a ward name, old or new."""
        wanted = fold(ward)
        for old, new in self.old_to_new.items():
            if fold(old) == wanted:
                return new
        return (ward,)

    def canonical_ward(self, name: str) -> str | None:
        """The spelling used in the data for a ward name typed any way, or None if unknown."""
        wanted = fold(name)
        for known in self.known_wards():
            if fold(known) == wanted or slug(known) == wanted.replace(" ", ""):
                return known
        return None


# --- Turn context and result ------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnContext:
    """Everything a turn may read besides the state: the clock, the OA, the registry, the settings."""

    now: datetime
    oa_key: str
    directory: Directory
    knowledge: KnowledgeBase
    form_expiry: timedelta = timedelta(minutes=30)
    handoff_timeout: timedelta = timedelta(hours=2)
    # Below this confidence the bot asks which topic was meant instead of answering.
    min_confidence: float = 0.45

    @property
    def oa(self) -> OaProfile:
        return self.directory.oa(self.oa_key)


@dataclass(frozen=True)
class Turn:
    """The outcome of one inbound event: the new state, the replies in order, and the effects."""

    state: Conversation
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = field(default=())
