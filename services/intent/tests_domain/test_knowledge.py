"""The knowledge base: the shipped files are valid, and broken entries are rejected at load."""

from __future__ import annotations

import copy
import unicodedata
from datetime import date
from typing import Any

import pytest

from services.intent import texts
from services.intent.knowledge import (
    MAX_MESSAGE_CHARS,
    KnowledgeBase,
    KnowledgeError,
    parse_documents,
)

pytestmark = pytest.mark.unit

PROCEDURE_INTENTS = {
    "procedure.permanent_residence",
    "procedure.temporary_residence",
    "procedure.temporary_absence",
    "procedure.stay_notice",
    "procedure.residence_update",
    "procedure.identity_card",
    "procedure.fire_safety",
    "procedure.vehicle_registration",
    "procedure.seal_registration",
}

VALID_ENTRY: dict[str, Any] = {
    "id": "thu-nghiem",
    "intent": "procedure.stay_notice",
    "title": "Thử nghiệm",
    "text": "Dạ, đây là câu trả lời thử nghiệm.",
    "legal_basis": ["Luật Cư trú 68/2020/QH14"],
    "last_reviewed": date(2026, 11, 30),
    "certainty": "confirmed",
}


def _load(*entries: dict[str, Any]) -> KnowledgeBase:
    return parse_documents([("test.yaml", {"topic": "test", "entries": list(entries)})])


def _entry(**changes: Any) -> dict[str, Any]:
    entry = copy.deepcopy(VALID_ENTRY)
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def test_every_procedure_topic_has_a_default_answer(knowledge: KnowledgeBase) -> None:
    for intent in PROCEDURE_INTENTS:
        entry = knowledge.get(intent)
        assert entry is not None, intent


def test_shipped_entries_carry_legal_basis_review_date_and_fit_a_zalo_message(knowledge: KnowledgeBase) -> None:
    for entry in knowledge.entries:
        message = entry.message()
        assert entry.last_reviewed == date(2026, 11, 30), entry.id
        assert len(message) <= MAX_MESSAGE_CHARS, entry.id
        assert unicodedata.normalize("NFC", message) == message, entry.id
        if entry.intent.startswith("procedure."):
            assert entry.legal_basis, entry.id
            assert "Căn cứ:" in message and "30/11/2026" in message, entry.id


def test_uncertain_entries_name_their_doubts_and_refer_the_citizen(knowledge: KnowledgeBase) -> None:
    uncertain = [e for e in knowledge.entries if e.certainty != "confirmed"]
    assert uncertain, "the facts have [U] items, so some answers must be marked"
    for entry in uncertain:
        assert entry.uncertain, entry.id
        assert "Công an" in entry.text or "Cổng Dịch vụ công" in entry.text, entry.id


def test_lookup_by_subcase_falls_back_to_the_default(knowledge: KnowledgeBase) -> None:
    assert knowledge.answer("procedure.identity_card", {"lost"}).id == "cancuoc-caplai"
    assert knowledge.answer("procedure.identity_card", {"damaged"}).id == "cancuoc-caplai"
    assert knowledge.answer("procedure.identity_card", {"child"}).id == "cancuoc-treem"
    assert knowledge.answer("procedure.temporary_residence", {"renew"}).id == "tamtru-giahan"
    assert knowledge.answer("procedure.temporary_residence", {"delete"}).id == "tamtru-xoa"
    assert knowledge.answer("procedure.vehicle_registration", {"car"}).id == "dangkyxe-oto"
    assert knowledge.answer("procedure.stay_notice", {"car"}).id == "luutru"
    assert knowledge.answer("procedure.temporary_residence").id == "tamtru"


def test_menu_payloads_lead_to_entries_or_commands(knowledge: KnowledgeBase) -> None:
    for _title, payload in (*texts.PROCEDURE_TOPICS, *texts.RESIDENCE_TOPICS):
        assert knowledge.resolves(payload), payload


def test_digital_citizen_waiver_is_mentioned_where_it_applies(knowledge: KnowledgeBase) -> None:
    for entry_id in ("tamtru", "thuongtru", "cancuoc", "cancuoc-caplai", "hokhau-tachho", "dangkyxe-bienso"):
        assert "28/02/2027" in knowledge.by_id(entry_id).text, entry_id


def test_a_valid_entry_loads() -> None:
    kb = _load(_entry())
    assert kb.get("procedure.stay_notice").id == "thu-nghiem"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"intent": "procedure.passport"}, "unknown intent"),
        ({"legal_basis": []}, "no legal_basis"),
        ({"legal_basis": None}, "no legal_basis"),
        ({"text": "Dạ, " + "rất dài " * 300}, "Zalo allows"),
        ({"buttons": [{"title": "Đi đâu?", "payload": "#khong-co"}]}, "leads nowhere"),
        ({"buttons": [{"title": "Gọi", "kind": "phone", "payload": "không phải số"}]}, "digits"),
        ({"certainty": "uncertain"}, "lists no uncertain facts"),
        ({"certainty": "uncertain", "uncertain": ["fee"]}, "must refer the citizen"),
        ({"id": "huy"}, "collides with a conversation command"),
        ({"last_reviewed": "hôm qua"}, "last_reviewed"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_broken_entries_are_rejected(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(KnowledgeError, match=reason):
        _load(_entry(**changes))


def test_two_entries_for_the_same_question_are_rejected() -> None:
    with pytest.raises(KnowledgeError, match="two entries answer"):
        _load(_entry(), _entry(id="ban-sao"))


def test_a_subcase_without_a_default_answer_is_rejected() -> None:
    with pytest.raises(KnowledgeError, match="no default entry"):
        _load(_entry(subcase="renew"))


def test_a_file_without_entries_is_rejected() -> None:
    with pytest.raises(KnowledgeError, match=r"test\.yaml"):
        parse_documents([("test.yaml", {"topic": "test", "entries": []})])
    with pytest.raises(KnowledgeError, match=r"test\.yaml"):
        parse_documents([("test.yaml", ["not", "a", "mapping"])])
