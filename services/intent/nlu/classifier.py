"""Intent classifier: multinomial logistic regression over features of the normalised text.

Pure Python and deterministic: features are folded word unigrams and bigrams plus character
3–5-grams; training is plain SGD with L2 decay over a fixed-seed shuffle, so the same data always
gives the same weights. About two thousand examples train in a few seconds on one core.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import add
from pathlib import Path

from services.intent.nlu.normalize import NormalizedText

__all__ = ["INTENTS", "Example", "Model", "featurize", "load_examples", "train"]

INTENTS: tuple[str, ...] = (
    "greeting",
    "help",
    "thanks",
    "procedure.permanent_residence",
    "procedure.temporary_residence",
    "procedure.temporary_absence",
    "procedure.stay_notice",
    "procedure.residence_update",
    "procedure.identity_card",
    "procedure.fire_safety",
    "procedure.vehicle_registration",
    "procedure.seal_registration",
    "report.crime",
    "report.public_order",
    "report.status",
    "directory.lookup",
    "news",
    "emergency",
    "handoff.human",
    "out_of_scope",
)


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message of a data file."""

    text: str
    intent: str


def load_examples(path: Path) -> list[Example]:
    """Read a JSON-lines file of `{"text": ..., "intent": ...}`; unknown intents are an error."""
    examples = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if record["intent"] not in INTENTS:
                raise ValueError(f"{path}:{number}: unknown intent {record['intent']!r}")
            examples.append(Example(text=record["text"], intent=record["intent"]))
    return examples


# -- features ------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_EMERGENCY_NUMBERS = frozenset({"113", "114", "115", "111", "112"})
_CHAR_SIZES = (3, 4, 5)
_WORD_WEIGHT = 1.0
_CHAR_WEIGHT = 0.6


def _word(token: str, text: NormalizedText) -> str:
    if token.upper() in text.case_codes:
        return "<code>"
    if token in _EMERGENCY_NUMBERS:
        return token
    return _DIGITS.sub("0", token)


def featurize(text: NormalizedText) -> tuple[list[str], list[str]]:
    """Word features (unigrams, bigrams) and character n-gram features of a normalised message."""
    words = [_word(t, text) for t in text.folded_tokens]
    word_features = {"w:" + w for w in words}
    padded = ["<s>", *words, "</s>"]
    word_features.update(f"b:{a}_{b}" for a, b in zip(padded, padded[1:], strict=False))
    joined = f" {' '.join(words)} "
    char_features = {
        joined[i:i + n] for n in _CHAR_SIZES for i in range(len(joined) - n + 1) if joined[i:i + n].strip()
    }
    return sorted(word_features), sorted(char_features)


def _scales(n_words: int, n_chars: int) -> tuple[float, float]:
    norm = math.sqrt(n_words * _WORD_WEIGHT**2 + n_chars * _CHAR_WEIGHT**2) or 1.0
    return _WORD_WEIGHT / norm, _CHAR_WEIGHT / norm


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


# -- model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """Trained weights: one row of per-intent weights for each known feature."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    word_weights: Mapping[str, tuple[float, ...]]
    char_weights: Mapping[str, tuple[float, ...]]

    def probabilities(self, text: NormalizedText) -> list[tuple[str, float]]:
        """(intent, probability) for every intent, most probable first (ties by label order)."""
        words, chars = featurize(text)
        if not words:
            return [(label, 1.0 / len(self.labels)) for label in self.labels]
        word_scale, char_scale = _scales(len(words), len(chars))
        zero = [0.0] * len(self.labels)
        word_sum = zero
        for feature in words:
            row = self.word_weights.get(feature)
            if row is not None:
                word_sum = list(map(add, word_sum, row))
        char_sum = zero
        for feature in chars:
            row = self.char_weights.get(feature)
            if row is not None:
                char_sum = list(map(add, char_sum, row))
        scores = [
            b + word_scale * w + char_scale * c
            for b, w, c in zip(self.bias, word_sum, char_sum, strict=True)
        ]
        ranked = sorted(zip(self.labels, _softmax(scores), strict=True), key=lambda p: -p[1])
        return ranked

    def to_json(self) -> str:
        """Serialise (for inspection or caching); `from_json` restores an identical model."""
        return json.dumps(
            {
                "labels": self.labels,
                "bias": self.bias,
                "word_weights": self.word_weights,
                "char_weights": self.char_weights,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, data: str) -> Model:
        raw = json.loads(data)
        return cls(
            labels=tuple(raw["labels"]),
            bias=tuple(raw["bias"]),
            word_weights={k: tuple(v) for k, v in raw["word_weights"].items()},
            char_weights={k: tuple(v) for k, v in raw["char_weights"].items()},
        )


def train(
    examples: Iterable[tuple[NormalizedText, str]],
    *,
    labels: Sequence[str] = INTENTS,
    epochs: int = 14,
    learning_rate: float = 0.8,
    l2: float = 1e-4,
    seed: int = 20260101,
) -> Model:
    """Fit a multinomial logistic regression by SGD; the same inputs always give the same model."""
    label_index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    rows: list[tuple[list[int], list[int], float, float, int]] = []
    word_ids: dict[str, int] = {}
    char_ids: dict[str, int] = {}
    for text, intent in examples:
        words, chars = featurize(text)
        if not words:
            continue
        w_ids = [word_ids.setdefault(f, len(word_ids)) for f in words]
        c_ids = [char_ids.setdefault(f, len(char_ids)) for f in chars]
        word_scale, char_scale = _scales(len(words), len(chars))
        rows.append((w_ids, c_ids, word_scale, char_scale, label_index[intent]))
    word_w = [[0.0] * k for _ in word_ids]
    char_w = [[0.0] * k for _ in char_ids]
    bias = [0.0] * k
    rng = random.Random(seed)
    order = list(range(len(rows)))
    zero = [0.0] * k
    for epoch in range(epochs):
        rng.shuffle(order)
        rate = learning_rate / (1.0 + 0.5 * epoch)
        decay = 1.0 - rate * l2
        for index in order:
            w_ids, c_ids, word_scale, char_scale, y = rows[index]
            word_sum = zero
            for f in w_ids:
                word_sum = list(map(add, word_sum, word_w[f]))
            char_sum = zero
            for f in c_ids:
                char_sum = list(map(add, char_sum, char_w[f]))
            scores = [
                b + word_scale * w + char_scale * c for b, w, c in zip(bias, word_sum, char_sum, strict=True)
            ]
            grad = _softmax(scores)
            grad[y] -= 1.0
            if max(abs(g) for g in grad) < 1e-3:
                continue
            word_step = [rate * word_scale * g for g in grad]
            char_step = [rate * char_scale * g for g in grad]
            for f in w_ids:
                word_w[f] = [w * decay - s for w, s in zip(word_w[f], word_step, strict=True)]
            for f in c_ids:
                char_w[f] = [w * decay - s for w, s in zip(char_w[f], char_step, strict=True)]
            bias = [b - rate * g for b, g in zip(bias, grad, strict=True)]
    return Model(
        labels=tuple(labels),
        bias=tuple(bias),
        word_weights={f: tuple(word_w[i]) for f, i in word_ids.items()},
        char_weights={f: tuple(char_w[i]) for f, i in char_ids.items()},
    )
