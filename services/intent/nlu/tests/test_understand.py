"""The public API end to end: shape, dev-set quality, emergency recall, determinism."""

import dataclasses
from collections import Counter

import pytest

from services.intent.nlu import Entities, Understanding, understand
from services.intent.nlu.classifier import INTENTS, Model, load_examples, train
from services.intent.nlu.normalize import Normalizer
from services.intent.nlu.understand import DATA_DIR, Engine, _default_engine

pytestmark = pytest.mark.unit

DEV = load_examples(DATA_DIR / "dev.jsonl")
TRAIN = load_examples(DATA_DIR / "train.jsonl")
# Written by another author who never saw train.jsonl or dev.jsonl: the closest stand-in for the blind set.
# Short common messages ("alo", "tạm trú") coincide with training examples; only the others are scored.
_TRAINED = {e.text.casefold() for e in TRAIN}
HOLDOUT = [e for e in load_examples(DATA_DIR / "holdout.jsonl") if e.text.casefold() not in _TRAINED]


def test_understanding_shape() -> None:
    result = understand("Chào anh, cho em hỏi đăng ký tạm trú ở p.Sơn Kỳ ntn ạ")
    assert isinstance(result, Understanding)
    assert result.intent == "procedure.temporary_residence"
    assert 0.0 <= result.confidence <= 1.0
    assert len(result.alternatives) == 3
    assert result.alternatives[0] == (result.intent, result.confidence)
    assert [p for _, p in result.alternatives] == sorted((p for _, p in result.alternatives), reverse=True)
    assert result.entities == Entities(ward="Sơn Kỳ", unit=None, case_code=None, subcases=frozenset())
    assert result.normalized == "chào anh cho em hỏi đăng ký tạm trú ở phường sơn kỳ như thế nào ạ"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.intent = "x"  # type: ignore[misc]


def test_status_question_carries_the_case_code() -> None:
    result = understand("hồ sơ tp 26 000123 tới đâu rồi")
    assert result.intent == "report.status"
    assert result.entities.case_code == "TP-26-000123"


def test_safety_rule_overrides_the_classifier() -> None:
    result = understand("thằng trộm còn trong nhà")
    assert result.intent == "emergency"
    assert result.confidence >= 0.95
    assert sum(p for _, p in result.alternatives) <= 1.0 + 1e-6


def test_past_theft_is_a_crime_report() -> None:
    assert understand("hôm qua bị trộm xe máy trước nhà").intent == "report.crime"


@pytest.mark.parametrize("text", ["", "   ", "???", "😀"])
def test_empty_or_symbol_only_messages(text: str) -> None:
    result = understand(text)
    assert result.intent == "out_of_scope"
    assert result.confidence == 0.0


def test_training_data_is_well_formed() -> None:
    train_counts = Counter(e.intent for e in TRAIN)
    dev_counts = Counter(e.intent for e in DEV)
    assert set(train_counts) == set(INTENTS)
    assert min(train_counts.values()) >= 60
    assert min(dev_counts.values()) >= 15
    train_texts = {e.text.casefold() for e in TRAIN}
    assert not [e.text for e in DEV if e.text.casefold() in train_texts]


def test_dev_accuracy_floor() -> None:
    correct = sum(understand(e.text).intent == e.intent for e in DEV)
    assert correct / len(DEV) >= 0.9


def test_independent_holdout_meets_the_blind_set_targets() -> None:
    """The issue's blind-set targets (accuracy ≥ 92 %, emergency recall 100 %) on messages nobody tuned for."""
    assert len(HOLDOUT) >= 300
    predicted = [understand(e.text).intent for e in HOLDOUT]
    accuracy = sum(p == e.intent for p, e in zip(predicted, HOLDOUT, strict=True)) / len(HOLDOUT)
    missed = [e.text for p, e in zip(predicted, HOLDOUT, strict=True) if e.intent == "emergency" and p != "emergency"]
    assert accuracy >= 0.92
    assert missed == []


def test_emergency_recall_on_dev_is_total() -> None:
    missed = [e.text for e in DEV if e.intent == "emergency" and understand(e.text).intent != "emergency"]
    assert missed == []


def test_training_is_deterministic() -> None:
    first, second = Engine(), _default_engine()
    assert first is not second
    assert first.model == second.model
    assert [first.understand(e.text) for e in DEV] == [understand(e.text) for e in DEV]


def test_model_round_trips_through_json() -> None:
    normalizer = Normalizer()
    model = train([(normalizer.normalize(e.text), e.intent) for e in TRAIN[:200]], epochs=2)
    assert Model.from_json(model.to_json()) == model
