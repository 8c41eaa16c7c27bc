"""Pure rules of the reports service: routing, priority, case codes, the case state machine, the
citizen's messaging window and what a delivery outcome means for a notice. No I/O, no clock."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from servicekit.registry import OfficialAccount, Registry
from servicekit.text import fold

Status = Literal["received", "acknowledged", "investigating", "resolved", "rejected", "transferred"]
Priority = Literal["urgent", "normal"]
ChangeKind = Literal["created", "assigned", "status_changed", "transferred", "note_added", "closed"]
NoticeKind = Literal["ack", "acknowledged", "resolved", "rejected", "reply"]
NoticeState = Literal["queued", "sent", "waiting", "retry", "delivered", "failed"]

STATUSES: tuple[Status, ...] = ("received", "acknowledged", "investigating", "resolved", "rejected", "transferred")
FINAL_STATUSES: frozenset[str] = frozenset({"resolved", "rejected"})
OPEN_NOTICE_STATES: frozenset[str] = frozenset({"queued", "sent", "waiting", "retry"})
FINAL_NOTICE_STATES: frozenset[str] = frozenset({"delivered", "failed"})

# Case codes count per OA and calendar year in Vietnam (UTC+7, no daylight saving).
VN_TZ = timezone(timedelta(hours=7))


class DomainError(Exception):
    """A request the rules refuse."""


class InvalidTransition(DomainError):
    """The case cannot move that way from where it is (HTTP 409)."""


class InvalidInput(DomainError):
    """A value the rules cannot use (HTTP 400)."""


# --- case state machine ------------------------------------------------------------------------------

# received → acknowledged → investigating → resolved / rejected / transferred. A transferred case waits
# for the receiving unit to acknowledge it. resolved and rejected are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"acknowledged", "rejected", "transferred"}),
    "acknowledged": frozenset({"investigating", "resolved", "rejected", "transferred"}),
    "investigating": frozenset({"resolved", "rejected", "transferred"}),
    "transferred": frozenset({"acknowledged", "rejected", "transferred"}),
    "resolved": frozenset(),
    "rejected": frozenset(),
}


@dataclass(frozen=True)
class CaseState:
    """What the state machine needs to know about a case."""

    status: Status
    unit: str
    version: int
    assignee: str | None = None


@dataclass(frozen=True)
class Change:
    """One accepted change of a case, ready to be recorded and published."""

    kind: ChangeKind
    from_status: Status
    to_status: Status
    from_unit: str
    to_unit: str
    assignee: str | None = None
    reason: str | None = None
    notice: NoticeKind | None = None


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def change_status(state: CaseState, to: Status, reason: str | None = None) -> Change:
    """A status change other than a transfer (which names the receiving unit: see `transfer`)."""
    if to == "transferred":
        raise InvalidInput("a transfer names the receiving unit: use the transfer action")
    if not can_transition(state.status, to):
        raise InvalidTransition(f"cannot go from {state.status} to {to}")
    reason = (reason or "").strip() or None
    if to == "rejected" and reason is None:
        raise InvalidInput("rejecting a case needs a reason for the citizen")
    kind: ChangeKind = "closed" if to in FINAL_STATUSES else "status_changed"
    notice: NoticeKind | None = to if to in ("acknowledged", "resolved", "rejected") else None  # type: ignore[assignment]
    return Change(kind, state.status, to, state.unit, state.unit, state.assignee, reason, notice)


def transfer(state: CaseState, to_unit: str, known_units: frozenset[str], reason: str | None = None) -> Change:
    """Re-route a case to another unit; the assignee is cleared (the other unit assigns its own)."""
    if to_unit not in known_units:
        raise InvalidInput(f"unknown unit {to_unit!r}")
    if to_unit == state.unit:
        raise InvalidTransition("the case is already with that unit")
    if not can_transition(state.status, "transferred"):
        raise InvalidTransition(f"cannot transfer a case that is {state.status}")
    return Change("transferred", state.status, "transferred", state.unit, to_unit, None, (reason or "").strip() or None)


def assign(state: CaseState, assignee: str) -> Change:
    assignee = assignee.strip()
    if not assignee:
        raise InvalidInput("assignee is empty")
    if state.status in FINAL_STATUSES:
        raise InvalidTransition(f"cannot assign a case that is {state.status}")
    return Change("assigned", state.status, state.status, state.unit, state.unit, assignee)


def note(state: CaseState) -> Change:
    return Change("note_added", state.status, state.status, state.unit, state.unit, state.assignee)


def reply(state: CaseState) -> Change:
    """A message to the citizen, recorded like a note (lifecycle `note_added`) and sent as a notice."""
    return Change("note_added", state.status, state.status, state.unit, state.unit, state.assignee, notice="reply")


# --- routing ------------------------------------------------------------------------------------------------


class RuleMatch(BaseModel):
    """Conditions of a rule; an empty list matches anything, several lists must all match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    oa: list[str] = Field(default_factory=list, description="Keys of the OA the citizen wrote to.")
    oa_kind: list[str] = Field(default_factory=list, description="district, unit, ward, commune.")
    oa_role: list[str] = Field(default_factory=list)
    kind: list[str] = Field(default_factory=list, description="crime, public_order.")
    category: list[str] = Field(default_factory=list)
    ward: list[str] = Field(default_factory=list, description="Ward names (compared folded).")
    source: list[str] = Field(default_factory=list, description="form, emergency.")


class RouteTarget(BaseModel):
    """Exactly one way of naming the receiving unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str | None = Field(default=None, description="An OA key.")
    role: str | None = Field(default=None, description="The first OA with this role.")
    ward_police: bool = Field(default=False, description="The ward OA of the report's ward, else report_unit.")
    report_unit: bool = Field(default=False, description="The report_unit of the OA the citizen wrote to.")

    @model_validator(mode="after")
    def _exactly_one(self) -> RouteTarget:
        chosen = [self.unit is not None, self.role is not None, self.ward_police, self.report_unit]
        if sum(chosen) != 1:
            raise ValueError("a route target names exactly one of unit, role, ward_police, report_unit")
        return self


class RoutingRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    match: RuleMatch
    route_to: RouteTarget


class UrgentRules(BaseModel):
    """When a report is urgent besides the explicit emergency flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[str] = Field(default_factory=lambda: ["emergency"])
    ongoing_kinds: list[str] = Field(default_factory=lambda: ["crime"])
    ongoing_phrases: list[str] = Field(default_factory=list, description="Folded phrases of an on-going crime.")


class RoutingRules(BaseModel):
    """config/routing-rules.json: first matching rule wins, else `default`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    rules: list[RoutingRule]
    default: RouteTarget = RouteTarget(report_unit=True)
    urgent: UrgentRules = UrgentRules()

    def problems(self, registry: Registry) -> list[str]:
        """References to OAs, roles or kinds the registry does not know (checked at start)."""
        keys = {o.key for o in registry.oas}
        roles = {o.role for o in registry.oas}
        out: list[str] = []
        for rule in self.rules:
            target = rule.route_to
            if target.unit is not None and target.unit not in keys:
                out.append(f"rule {rule.name}: unit {target.unit!r} is not an OA key")
            if target.role is not None and target.role not in roles:
                out.append(f"rule {rule.name}: no OA has role {target.role!r}")
            out.extend(f"rule {rule.name}: OA {k!r} is not an OA key" for k in rule.match.oa if k not in keys)
        if self.default.unit is not None and self.default.unit not in keys:
            out.append(f"default: unit {self.default.unit!r} is not an OA key")
        return out


@dataclass(frozen=True)
class ReportFacts:
    """What routing and priority look at."""

    kind: str
    category: str
    ward: str | None
    source: str
    urgent: bool
    description: str
    occurred_at_text: str | None


@dataclass(frozen=True)
class RouteDecision:
    unit: str
    rule: str
    ward: str | None


def resolve_ward(registry: Registry, named: str | None, oa: OfficialAccount) -> str | None:
    """The ward a report is about, in the registry's spelling where it knows it.

    A named ward wins (old names are mapped to today's ward when the mapping is unambiguous); without
    one, the ward of a ward OA is the ward the citizen wrote to.
    """
    if named and named.strip():
        direct = registry.ward_oa(named)
        if direct is not None:
            return direct.ward
        current = registry.current_wards(named)
        if len(current) == 1:
            mapped = registry.ward_oa(current[0])
            return mapped.ward if mapped is not None else current[0]
        return named.strip()
    return oa.ward if oa.kind in ("ward", "commune") else None


def _matches(match: RuleMatch, oa: OfficialAccount, facts: ReportFacts, ward: str | None) -> bool:
    checks = (
        (match.oa, oa.key),
        (match.oa_kind, oa.kind),
        (match.oa_role, oa.role),
        (match.kind, facts.kind),
        (match.category, facts.category),
        (match.source, facts.source),
    )
    if any(allowed and value not in allowed for allowed, value in checks):
        return False
    return not match.ward or (ward is not None and fold(ward) in {fold(w) for w in match.ward})


def _target_unit(target: RouteTarget, registry: Registry, oa: OfficialAccount, ward: str | None) -> str | None:
    if target.unit is not None:
        return target.unit
    if target.role is not None:
        return next((o.key for o in registry.oas if o.role == target.role), None)
    if target.ward_police:
        ward_oa = registry.ward_oa(ward) if ward else None
        return ward_oa.key if ward_oa is not None else oa.report_unit
    return oa.report_unit


def route(rules: RoutingRules, registry: Registry, oa: OfficialAccount, facts: ReportFacts) -> RouteDecision:
    """The unit that handles a new report: the first matching rule, else the default."""
    ward = resolve_ward(registry, facts.ward, oa)
    for rule in rules.rules:
        if _matches(rule.match, oa, facts, ward):
            unit = _target_unit(rule.route_to, registry, oa, ward)
            if unit is not None:
                return RouteDecision(unit, rule.name, ward)
    return RouteDecision(_target_unit(rules.default, registry, oa, ward) or oa.report_unit, "default", ward)


# --- priority -------------------------------------------------------------------------------------------------


def _has_phrase(folded: str, phrase: str) -> bool:
    return f" {phrase} " in f" {folded} "


def priority_of(rules: UrgentRules, facts: ReportFacts) -> tuple[Priority, str | None]:
    """urgent for an emergency (or the urgent flag) and for a crime that is happening now."""
    if facts.urgent:
        return "urgent", "flagged_urgent"
    if facts.source in rules.sources:
        return "urgent", f"source_{facts.source}"
    if facts.kind in rules.ongoing_kinds:
        folded = " ".join(fold(t) for t in (facts.occurred_at_text or "", facts.description))
        folded = re.sub(r"[^\w ]+", " ", folded)
        if any(_has_phrase(folded, fold(p)) for p in rules.ongoing_phrases):
            return "urgent", "ongoing_crime"
    return "normal", None


# --- case codes -------------------------------------------------------------------------------------------------

_CODE_RE = re.compile(r"^\s*([A-Za-z]{2,4})[\s._/-]*((?:20)?\d{2})[\s._/-]*(\d{1,7})\s*$")


def case_year(at: datetime) -> int:
    """The two-digit year of a case code: the calendar year in Vietnam when the report was made."""
    return at.astimezone(VN_TZ).year % 100


def format_case_code(prefix: str, year: int, seq: int) -> str:
    """`TP-26-000123`: OA prefix, two-digit year, serial (6 digits, more if a year ever needs them)."""
    if seq < 1:
        raise ValueError("serials start at 1")
    return f"{prefix}-{year % 100:02d}-{seq:06d}"


def parse_case_code(text: str) -> str | None:
    """The canonical code of what a citizen typed ("tp 26 123" → "TP-26-000123"), or None."""
    m = _CODE_RE.match(text or "")
    if m is None:
        return None
    prefix, year, serial = m.groups()
    return f"{prefix.upper()}-{year[-2:]}-{int(serial):06d}"


# --- the citizen's messaging window and notice outcomes ------------------------------------------------------

WindowState = Literal["open", "closed", "unknown"]
WINDOW_ERRORS = frozenset({-230, -232})
_WAIT_REASONS = frozenset({"window_closed", "expired", "not_reachable"})
_RETRY_REASONS = frozenset({"transient", "rate_limited", "token"})


def window_state(last_inbound: datetime | None, now: datetime, window_s: float, margin_s: float) -> WindowState:
    """Whether Zalo still accepts a CS message to the citizen (7 days after the last interaction)."""
    if last_inbound is None:
        return "unknown"
    return "open" if now < last_inbound + timedelta(seconds=window_s - margin_s) else "closed"


def window_closes_at(last_inbound: datetime | None, window_s: float) -> datetime | None:
    return None if last_inbound is None else last_inbound + timedelta(seconds=window_s)


def classify_outcome(
    status: str, reason: str, zalo_error: int | None, retryable: bool
) -> Literal["delivered", "waiting", "retry", "failed"]:
    """What a delivery outcome means for a notice.

    waiting: the citizen is out of reach for now (window closed, blocked, not attempted because expired):
    the notice goes out the next time the citizen writes. retry: a transient failure after the egress's
    own retries. failed: the message itself was refused (invalid), which another attempt will not fix.
    """
    if status == "sent":
        return "delivered"
    if status == "skipped":
        return "waiting"
    if (zalo_error is not None and zalo_error in WINDOW_ERRORS) or reason in _WAIT_REASONS:
        return "waiting"
    if reason in _RETRY_REASONS or retryable:
        return "retry"
    return "failed"


def backoff_s(attempt: int, initial_s: float, max_s: float, jitter: float) -> float:
    """Exponential backoff with half jitter; `jitter` in [0, 1] is passed in (the domain has no randomness)."""
    base = min(max_s, initial_s * 2 ** max(0, attempt - 1))
    return base * (0.5 + 0.5 * max(0.0, min(1.0, jitter)))


# --- list cursors -----------------------------------------------------------------------------------------------

ListOrder = Literal["newest", "urgent_first"]


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after (created_ts, case_id) in `order`; `phase` 0 = urgent part."""

    order: ListOrder
    phase: int
    created_ts: float
    case_id: str


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([cursor.order, cursor.phase, cursor.created_ts, cursor.case_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        order, phase, ts, case_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput("invalid cursor") from exc
    if (
        order not in ("newest", "urgent_first")
        or phase not in (0, 1)
        or not isinstance(ts, int | float)
        or isinstance(ts, bool)
        or not math.isfinite(ts)
        or not isinstance(case_id, str)
    ):
        raise InvalidInput("invalid cursor")
    return Cursor(order, phase, float(ts), case_id)
