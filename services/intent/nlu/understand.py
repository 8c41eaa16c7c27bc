"""The one entry point of the intent service's language understanding: `understand(text)`.

The classifier is trained once, lazily, from `services/intent/data/train.jsonl` (deterministic, a few
seconds, no network) and reused. The emergency safety rules then override it: a matching rule forces
"emergency"; a message plainly about the past or asking a question vetoes an unbacked "emergency".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from services.intent.nlu import emergency
from services.intent.nlu.classifier import Model, load_examples, train
from services.intent.nlu.entities import Entities, extract
from services.intent.nlu.normalize import Normalizer

__all__ = ["DATA_DIR", "Engine", "Entities", "Understanding", "understand"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

EMERGENCY = "emergency"
OUT_OF_SCOPE = "out_of_scope"
# Confidence reported when a safety rule forces "emergency" and the classifier was less sure.
_FORCED_CONFIDENCE = 0.95
_ALTERNATIVES = 3


@dataclass(frozen=True)
class Understanding:
    """The intent of a message, how sure we are, the runners-up, entities and the normalised text."""

    intent: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]  # top 3 incl. the first
    entities: Entities
    normalized: str


class Engine:
    """A normaliser and a trained model. Read-only once built (the normaliser's per-token caches only
    grow, one atomic dict write at a time), so one engine is shared by every task and thread."""

    def __init__(self, train_path: Path = DATA_DIR / "train.jsonl") -> None:
        examples = load_examples(train_path)
        self.normalizer = Normalizer(e.text for e in examples)
        self.model: Model = train((self.normalizer.normalize(e.text), e.intent) for e in examples)

    def understand(self, text: str) -> Understanding:
        """Classify one message and extract its entities."""
        normalized = self.normalizer.normalize(text)
        entities = extract(normalized)
        if not normalized.tokens:
            return Understanding(OUT_OF_SCOPE, 0.0, ((OUT_OF_SCOPE, 0.0),), entities, "")
        ranked = self.model.probabilities(normalized)
        safety = emergency.assess(normalized)
        if safety.force:
            ranked = _promote(ranked, EMERGENCY)
        elif safety.veto and ranked[0][0] == EMERGENCY:
            ranked = _demote(ranked, EMERGENCY)
        top = tuple((label, round(p, 4)) for label, p in ranked[:_ALTERNATIVES])
        return Understanding(
            intent=top[0][0],
            confidence=top[0][1],
            alternatives=top,
            entities=entities,
            normalized=normalized.text,
        )


def _promote(ranked: list[tuple[str, float]], label: str) -> list[tuple[str, float]]:
    """Put `label` first with at least the forced confidence, rescaling the others to sum to one."""
    p = dict(ranked)[label]
    target = max(p, _FORCED_CONFIDENCE)
    rest = [(name, q) for name, q in ranked if name != label]
    scale = (1.0 - target) / (1.0 - p) if p < 1.0 else 0.0
    return [(label, target), *((name, q * scale) for name, q in rest)]


def _demote(ranked: list[tuple[str, float]], label: str) -> list[tuple[str, float]]:
    """Drop `label` and renormalise the others."""
    rest = [(name, q) for name, q in ranked if name != label]
    total = sum(q for _, q in rest) or 1.0
    return [(name, q / total) for name, q in rest] + [(label, 0.0)]


_engine: Engine | None = None
_engine_lock = threading.Lock()


def _default_engine() -> Engine:
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = Engine()
    return _engine


def understand(text: str) -> Understanding:
    """Intent, confidence, top-3 alternatives, entities and normalised text of one citizen message.

    The first call trains the model (about three seconds, synchronously): a service should call it
    once at start-up, e.g. `understand("")`, rather than on its first citizen's message.
    """
    return _default_engine().understand(text)
