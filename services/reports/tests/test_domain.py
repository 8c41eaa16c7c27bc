"""The pure rules: state machine, routing, case codes, priority, window, outcomes, cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicekit.registry import load_registry
from services.reports import domain, texts
from services.reports.app import load_routing_rules
from services.reports.domain import (
    CaseState,
    Cursor,
    InvalidInput,
    InvalidTransition,
    ReportFacts,
    case_year,
    classify_outcome,
    decode_cursor,
    encode_cursor,
    format_case_code,
    parse_case_code,
    priority_of,
    route,
    window_state,
)
from services.reports.settings import DEFAULT_ROUTING_RULES

pytestmark = pytest.mark.unit

REGISTRY = load_registry()
RULES = load_routing_rules(DEFAULT_ROUTING_RULES)
UNITS = frozenset(o.key for o in REGISTRY.oas)


def facts(kind="crime", category="theft", ward=None, source="form", urgent=False, description="x", when=None):
    return ReportFacts(kind, category, ward, source, urgent, description, when)


def state(status="received", unit="hinhsu"):
    return CaseState(status, unit, 1)  # type: ignore[arg-type]


# --- state machine ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("received", "acknowledged"),
        ("received", "rejected"),
        ("acknowledged", "investigating"),
        ("acknowledged", "resolved"),
        ("investigating", "resolved"),
        ("investigating", "rejected"),
        ("transferred", "acknowledged"),
    ],
)
def test_allowed_transitions(start, to):
    change = domain.change_status(state(start), to, reason="lý do")
    assert (change.from_status, change.to_status) == (start, to)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("received", "investigating"),
        ("received", "resolved"),
        ("received", "received"),
        ("investigating", "acknowledged"),
        ("resolved", "investigating"),
        ("rejected", "acknowledged"),
        ("resolved", "rejected"),
    ],
)
def test_invalid_transitions_are_refused(start, to):
    with pytest.raises(InvalidTransition):
        domain.change_status(state(start), to, reason="r")


def test_every_status_has_its_transitions_listed():
    assert set(domain.TRANSITIONS) == set(domain.STATUSES)
    assert all(not domain.TRANSITIONS[s] for s in domain.FINAL_STATUSES)


def test_rejecting_needs_a_reason_and_notifies():
    with pytest.raises(InvalidInput):
        domain.change_status(state("acknowledged"), "rejected", reason="  ")
    change = domain.change_status(state("acknowledged"), "rejected", reason="Không thuộc thẩm quyền")
    assert change.kind == "closed" and change.notice == "rejected"


def test_which_changes_notify_the_citizen():
    assert domain.change_status(state("received"), "acknowledged").notice == "acknowledged"
    assert domain.change_status(state("acknowledged"), "investigating").notice is None
    assert domain.change_status(state("investigating"), "resolved").notice == "resolved"
    assert domain.reply(state()).notice == "reply"
    assert domain.note(state()).notice is None


def test_transfer_moves_the_unit_and_clears_the_assignee():
    change = domain.transfer(CaseState("acknowledged", "hinhsu", 3, "u1"), "csgt", UNITS, "giao thông")
    assert (change.to_status, change.from_unit, change.to_unit, change.assignee) == (
        "transferred",
        "hinhsu",
        "csgt",
        None,
    )
    with pytest.raises(InvalidTransition):
        domain.transfer(state(unit="csgt"), "csgt", UNITS)
    with pytest.raises(InvalidInput):
        domain.transfer(state(), "nowhere", UNITS)
    with pytest.raises(InvalidTransition):
        domain.transfer(state("resolved"), "csgt", UNITS)
    with pytest.raises(InvalidInput):
        domain.change_status(state(), "transferred")


def test_assigning_a_closed_case_is_refused():
    assert domain.assign(state(), "u7").assignee == "u7"
    with pytest.raises(InvalidTransition):
        domain.assign(state("resolved"), "u7")


# --- routing -----------------------------------------------------------------------------------------------


def oa(key):
    return REGISTRY.by_key(key)


def test_the_shipped_rules_fit_the_registry():
    assert RULES.problems(REGISTRY) == []


@pytest.mark.parametrize(
    ("oa_key", "f", "unit", "rule"),
    [
        ("sonky", facts(category="fraud"), "hinhsu", "fraud-and-cyber-crime"),
        ("tanphu", facts(category="cyber"), "hinhsu", "fraud-and-cyber-crime"),
        ("sonky", facts(kind="public_order", category="traffic"), "csgt", "traffic"),
        ("tanquy", facts(kind="public_order", category="fire_hazard"), "pccc", "fire-hazard"),
        (
            "tanphu",
            facts(kind="public_order", category="noise", ward="Phường Sơn Kỳ"),
            "sonky",
            "neighbourhood-public-order",
        ),
        ("tanphu", facts(kind="public_order", category="noise", ward="son ky"), "sonky", "neighbourhood-public-order"),
        ("tanquy", facts(kind="public_order", category="gathering"), "tanquy", "neighbourhood-public-order"),
        ("tanphu", facts(kind="public_order", category="noise"), "qlhc", "neighbourhood-public-order"),
        ("tanphu", facts(kind="crime", category="theft"), "hinhsu", "crime-reported-to-the-district-oa"),
        ("sonky", facts(kind="crime", category="theft"), "sonky", "default"),
        ("csgt", facts(kind="crime", category="violence"), "csgt", "default"),
    ],
)
def test_routing(oa_key, f, unit, rule):
    decision = route(RULES, REGISTRY, oa(oa_key), f)
    assert (decision.unit, decision.rule) == (unit, rule)


def test_a_ward_oa_gives_its_ward_and_a_named_ward_is_spelled_as_in_the_registry():
    assert route(RULES, REGISTRY, oa("sonky"), facts()).ward == "Sơn Kỳ"
    assert route(RULES, REGISTRY, oa("tanphu"), facts(ward="phuong tan quy")).ward == "Tân Quý"


def test_routing_is_data(tmp_path):
    """A new rule in the file changes routing without code."""
    doc = RULES.model_dump()
    doc["rules"].insert(
        0, {"name": "drugs-to-security", "match": {"category": ["drugs"]}, "route_to": {"unit": "anninh"}}
    )
    rules = domain.RoutingRules.model_validate(doc)
    assert route(rules, REGISTRY, oa("sonky"), facts(category="drugs")).unit == "anninh"
    doc["rules"][0]["route_to"] = {"unit": "nowhere"}
    assert domain.RoutingRules.model_validate(doc).problems(REGISTRY)


def test_a_route_target_names_exactly_one_target():
    with pytest.raises(ValueError, match="exactly one"):
        domain.RouteTarget(unit="csgt", role="traffic")


# --- priority --------------------------------------------------------------------------------------------------


def test_priority():
    assert priority_of(RULES.urgent, facts(source="emergency")) == ("urgent", "source_emergency")
    assert priority_of(RULES.urgent, facts(urgent=True))[0] == "urgent"
    assert priority_of(RULES.urgent, facts(description="Có người đang đập phá cửa nhà hàng xóm!"))[0] == "urgent"
    ongoing = facts(description="Có kẻ đang trộm xe trước nhà tôi")
    assert priority_of(RULES.urgent, ongoing) == ("urgent", "ongoing_crime")
    assert priority_of(RULES.urgent, facts(when="Vừa xảy ra"))[0] == "urgent"
    assert priority_of(RULES.urgent, facts(kind="public_order", description="đang xảy ra tụ tập"))[0] == "normal"
    assert priority_of(RULES.urgent, facts(description="Tôi bị lừa tiền tháng trước"))[0] == "normal"


# --- case codes -------------------------------------------------------------------------------------------------


def test_case_codes():
    assert format_case_code("TP", 26, 123) == "TP-26-000123"
    assert format_case_code("TSN", 2026, 1_234_567) == "TSN-26-1234567"
    with pytest.raises(ValueError):
        format_case_code("TP", 26, 0)
    assert parse_case_code("tp 26 123") == "TP-26-000123"
    assert parse_case_code(" TSN-2026-000042 ") == "TSN-26-000042"
    assert parse_case_code("TP26000123") == "TP-26-000123"
    assert parse_case_code("xin chào") is None


def test_the_code_year_is_the_year_in_vietnam():
    assert case_year(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)) == 26
    assert case_year(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == 27


# --- window and outcomes ------------------------------------------------------------------------------------------


def test_window():
    now = datetime(2026, 6, 10, tzinfo=UTC)
    week = 7 * 86400
    assert window_state(None, now, week, 3600) == "unknown"
    assert window_state(now - timedelta(days=6), now, week, 3600) == "open"
    assert window_state(now - timedelta(days=7) + timedelta(minutes=30), now, week, 3600) == "closed"
    assert window_state(now - timedelta(days=8), now, week, 3600) == "closed"


@pytest.mark.parametrize(
    ("status", "reason", "error", "retryable", "expected"),
    [
        ("sent", "ok", None, False, "delivered"),
        ("failed", "window_closed", -230, False, "waiting"),
        ("failed", "other", -232, False, "waiting"),
        ("failed", "not_reachable", -217, False, "waiting"),
        ("skipped", "expired", None, False, "waiting"),
        ("failed", "transient", -200, True, "retry"),
        ("failed", "rate_limited", -32, True, "retry"),
        ("failed", "invalid", -201, False, "failed"),
    ],
)
def test_outcome_classification(status, reason, error, retryable, expected):
    assert classify_outcome(status, reason, error, retryable) == expected


def test_backoff_grows_and_is_capped():
    assert domain.backoff_s(1, 5, 100, 1.0) == 5
    assert domain.backoff_s(3, 5, 100, 1.0) == 20
    assert domain.backoff_s(10, 5, 100, 1.0) == 100
    assert domain.backoff_s(3, 5, 100, 0.0) == 10


def test_cursor_round_trip_and_garbage():
    c = Cursor("urgent_first", 0, 1764480000.123, "a" * 32)
    assert decode_cursor(encode_cursor(c)) == c
    for bad in ("", "!!!", "bnVsbA", encode_cursor(c)[:-3] + "xyz", "WyJuZXdlc3QiLDIsMSwieCJd"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)


# --- citizen-facing text ------------------------------------------------------------------------------------------


def test_citizen_texts_are_vietnamese_with_diacritics_and_carry_the_code():
    samples = [
        texts.ack("TP-26-000001", "crime", "Đội Cảnh sát hình sự", anonymous=True, urgent=True),
        texts.status_notice("acknowledged", "TP-26-000001", "Công an phường Sơn Kỳ", None),
        texts.status_notice("resolved", "TP-26-000001", "x", "Đã thu hồi tài sản."),
        texts.status_notice("rejected", "TP-26-000001", "x", "Không thuộc thẩm quyền"),
        texts.status_not_found("TP-26-000001"),
    ]
    for text in samples:
        assert "TP-26-000001" in text and text.startswith("Dạ,")
        assert any(ch in text for ch in "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ")
    assert "113" in samples[0] and "ẩn danh" in samples[0]
    assert "Không thuộc thẩm quyền" in samples[3]
