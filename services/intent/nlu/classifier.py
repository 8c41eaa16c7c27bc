"""Intent classifier: multinomial logistic regression over features of the normalised text.

Pure Python and deterministic. Features: folded word unigrams and bigrams, domain concepts (a small
lexicon mapping synonyms to one feature), and character 3–5-grams (down-weighted), binary and
L2-normalised. Training is SGD with sparse steps over a fixed-seed shuffle and a light L2 decay per
epoch, so the same data always gives the same weights;
about 2,500 examples train in about three seconds on one core. Probabilities are a softmax with a
temperature fitted by cross-validation.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
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
_CHAR_WEIGHT = 0.4
_ACTIVE_GRADIENT = 0.02
# Softmax temperature at prediction time. Plain SGD with early stopping leaves the model
# under-confident; 0.6 minimised the log-loss of 5-fold cross-validation on the training set.
TEMPERATURE = 0.6


# Concept features: a domain lexicon that maps many surface words (folded unigrams and bigrams) to one
# shared feature, so that a synonym seen rarely in training ("om sòm") borrows what its concept
# ("noise") learned from the frequent ones.
_CONCEPT_WORDS: dict[str, str] = {
    "noise": "on|on ao|am i|om som|inh oi|ru ga|hat|hat hoc|karaoke|loa|nhac|la het|chui|cai nhau|chui boi"
    "|xap xinh|am am|khoan|tieng on|lam phien|mat ngu|khong ngu|ngu khong|ron|nhac san|loa keo|keo keo",
    "drinking": "nhau|say|xin|ruou|bia|say xin|nhau nhet|ruou bia|nhau say",
    "encroach": "via he|long duong|lan chiem|chiem|chan loi|loi di|hanh lang|hang rong|dau xe|do xe|bai xe"
    "|lan ra|tran ra|chan duong|chan cong|chan hem|buon ban",
    "trash": "rac|xa rac|phe thai|xa ban|nuoc thai|vut rac|do rac|bo rac|ban thai|hoi thoi|mui hoi",
    "racing": "dua xe|lang lach|boc dau|danh vong|toc do|phong nhanh|quai xe|chay an",
    "gathering": "tu tap|tu ta|dong nguoi|bang nhom|nhom thanh nien|thanh nien|tu tap dong",
    "theft": "trom|an cap|lay cap|mat cap|cuop|giat|moc tui|lay mat|lay trom|cuom|chom|ke gian|dot nhap"
    "|be khoa|mat trom|an trom|bo tron|mang theo|cuop giat",
    "fraud": "lua|lua dao|gia danh|mao danh|chiem doat|chuyen khoan|chuyen tien|otp|tien ao|dau tu|da cap"
    "|vay online|app vay|gia mao|dat coc|bi lua|lua dao qua mang|sap|tong tien|hack",
    "drugs": "ma tuy|thuoc lac|can sa|heroin|ke da|tiem chich|hang da|chat cam|hang cam",
    "gambling": "danh bac|co bac|ca do|so de|danh de|lo de|dat cuoc|ca cuoc|song bac|xoc dia|danh bai",
    "report": "to giac|to cao|trinh bao|bao an|lam don|khieu nai|nan nhan",
    "status": "tinh trang|tien do|ket qua|xu ly|den dau|toi dau|sao roi|cap nhat|ma ho so|ma vu viec|da gui"
    "|chua thay|phan hoi|tra cuu|giai quyet|tien trien|tiep nhan",
    "rent": "tam tru|thue tro|phong tro|nha tro|o tro|thue nha|kt3|chu tro|nguoi thue|cho thue|thue phong"
    "|day tro|khu tro|ky tuc xa|sinh vien",
    "household": "thuong tru|ho khau|nhap khau|chuyen khau|cat khau|nhap ho khau|chuyen ho khau",
    "away": "tam vang|di xa|vang nha|vang mat|di lam xa|xuat khau lao dong|du hoc|bo doi|nghia vu|quan su"
    "|di nuoc ngoai|dinh cu|roi khoi|di khoi|lao dong|cong tac|di lam an|khoi dia phuong",
    "guest": "luu tru|khach|o lai|o nho|ngu lai|qua dem|vai hom|may hom|vai ngay|may ngay|homestay|nha nghi"
    "|khach san|len choi|len tham|vao choi|o choi|o tam|airbnb|may dem|vai dem",
    "household_record": "so ho khau|tach ho|tach khau|chu ho|ct07|xac nhan cu tru|thong tin cu tru|dieu chinh"
    "|co so du lieu|du lieu cu tru|noi cu tru|xac nhan noi|o rieng",
    "identity": "can cuoc|cccd|cmnd|chung minh|chung minh thu|vneid|dinh danh|chip|sinh trac|the can cuoc"
    "|cmt|cancuoc|muc 2|dinh danh dien tu",
    "fire_rules": "pccc|phong chay|chua chay|binh chua chay|thoat hiem|tham dinh|tham duyet|nghiem thu|bao chay"
    "|an toan chay no|chay no|loi thoat",
    "vehicle": "xe may|o to|bien so|ca vet|cavet|sang ten|dang ky xe|xe dien|mo to|xe hoi|truoc ba|bien vang"
    "|giay dang ky xe|chinh chu|doi chu|xe cu|xe moi",
    "seal": "con dau|mau dau|khac dau|dau tron|dau noi|dau thu nho",
    "where": "dia chi|o dau|so dien thoai|hotline|duong day nong|gio lam viec|may gio|tiep dan|tru so|lien he"
    "|duong nao|cho nao|nam o|gan nhat|mo cua|dong cua|nghi trua|lam viec|thu 7|chu nhat|sap nhap",
    "news": "tin|tin tuc|ban tin|thong bao|canh bao|nhan tin|theo doi|huy|tin moi|dang ky nhan|ngung nhan",
    "person": "can bo|nguoi that|nhan vien|truc tiep|noi chuyen|gap|tu van vien|tong dai vien|nguoi|admin"
    "|goi lai|lien he lai|trao doi",
    "gratitude": "cam on|thanks|thank|cam on nhieu|biet on",
    "hello": "chao|xin chao|alo|hello|hi|helo|he lo",
    "guidance": "huong dan|tro giup|menu|chuc nang|ho tro|giup|su dung|cach dung|dich vu|lam duoc gi",
    "danger": "cuu|chay|khoi|dam|chem|bat tinh|duoi nuoc|tai nan|mau|nguy hiem|dao|sung|gap|ngat",
    "child": "con|be|tre|chau|con nho|tre em|so sinh|moi sinh",
}
_CONCEPTS: dict[tuple[str, ...], str] = {
    tuple(phrase.split()): concept for concept, phrases in _CONCEPT_WORDS.items() for phrase in phrases.split("|")
}


def _concepts(words: Sequence[str]) -> list[str]:
    found = []
    for i, word in enumerate(words):
        for phrase in ((word,), tuple(words[i : i + 2])):
            concept = _CONCEPTS.get(phrase)
            if concept is not None:
                found.append("k:" + concept)
    return found


def _word(token: str, text: NormalizedText) -> str:
    if token.upper() in text.case_codes:
        return "<code>"
    if token in _EMERGENCY_NUMBERS or token[0].isalpha():
        return token  # 113, and codes such as "ct01" / "ct07" / "kt3" that name different forms
    return _DIGITS.sub("0", token)


def featurize(text: NormalizedText) -> tuple[list[str], list[str]]:
    """Word features (unigrams, bigrams) and character n-gram features of a normalised message.

    Each list is free of duplicates and in a deterministic order (the order they occur in).
    """
    words = [_word(t, text) for t in text.folded_tokens]
    padded = ["<s>", *words, "</s>"]
    word_features = [f"w:{w}" for w in words]
    word_features += [f"b:{a}_{b}" for a, b in pairwise(padded)]
    word_features += _concepts(words)
    joined = f" {' '.join(words)} "
    char_features = [
        joined[i : i + n] for n in _CHAR_SIZES for i in range(len(joined) - n + 1) if joined[i : i + n].strip()
    ]
    return list(dict.fromkeys(word_features)), list(dict.fromkeys(char_features))


def _scales(n_words: int, n_chars: int) -> tuple[float, float]:
    norm = math.sqrt(n_words * _WORD_WEIGHT**2 + n_chars * _CHAR_WEIGHT**2) or 1.0
    return _WORD_WEIGHT / norm, _CHAR_WEIGHT / norm


def _column_sums(rows: Sequence[Sequence[float]], width: int) -> list[float]:
    return list(map(sum, zip(*rows, strict=True))) if rows else [0.0] * width


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
    temperature: float = TEMPERATURE

    def probabilities(self, text: NormalizedText) -> list[tuple[str, float]]:
        """(intent, probability) for every intent, most probable first (ties by label order)."""
        words, chars = featurize(text)
        if not words:
            return [(label, 1.0 / len(self.labels)) for label in self.labels]
        word_scale, char_scale = _scales(len(words), len(chars))
        known_words = [row for row in map(self.word_weights.get, words) if row is not None]
        known_chars = [row for row in map(self.char_weights.get, chars) if row is not None]
        word_sum = _column_sums(known_words, len(self.labels))
        char_sum = _column_sums(known_chars, len(self.labels))
        scores = [
            (b + word_scale * w + char_scale * c) / self.temperature
            for b, w, c in zip(self.bias, word_sum, char_sum, strict=True)
        ]
        return sorted(zip(self.labels, _softmax(scores), strict=True), key=lambda p: -p[1])

    def to_json(self) -> str:
        """Serialise (for inspection or caching); `from_json` restores an identical model."""
        return json.dumps(
            {
                "labels": self.labels,
                "bias": self.bias,
                "word_weights": self.word_weights,
                "char_weights": self.char_weights,
                "temperature": self.temperature,
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
            temperature=raw["temperature"],
        )


def train(
    examples: Iterable[tuple[NormalizedText, str]],
    *,
    labels: Sequence[str] = INTENTS,
    epochs: int = 10,
    learning_rate: float = 2.0,
    l2: float = 1e-5,
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
    for epoch in range(epochs):
        rng.shuffle(order)
        rate = learning_rate / (1.0 + 0.5 * epoch)
        for index in order:
            w_ids, c_ids, word_scale, char_scale, y = rows[index]
            word_sum = _column_sums([word_w[f] for f in w_ids], k)
            char_sum = _column_sums([char_w[f] for f in c_ids], k)
            scores = [b + word_scale * w + char_scale * c for b, w, c in zip(bias, word_sum, char_sum, strict=True)]
            grad = _softmax(scores)
            grad[y] -= 1.0
            # Sparse step: only the intents whose gradient matters (usually the gold one and one or two
            # rivals), which keeps training to a couple of seconds in pure Python.
            active = [(i, rate * g) for i, g in enumerate(grad) if abs(g) > _ACTIVE_GRADIENT]
            if not active:
                continue
            for i, step in active:
                bias[i] -= step
            word_steps = [(i, step * word_scale) for i, step in active]
            for f in w_ids:
                row = word_w[f]
                for i, step in word_steps:
                    row[i] -= step
            char_steps = [(i, step * char_scale) for i, step in active]
            for f in c_ids:
                row = char_w[f]
                for i, step in char_steps:
                    row[i] -= step
        # L2 regularisation applied once per epoch (as if spread over its steps).
        shrink = (1.0 - rate * l2) ** len(rows)
        for matrix in (word_w, char_w):
            for f, row in enumerate(matrix):
                matrix[f] = [w * shrink for w in row]
    return Model(
        labels=tuple(labels),
        bias=tuple(bias),
        word_weights={f: tuple(word_w[i]) for f, i in word_ids.items()},
        char_weights={f: tuple(char_w[i]) for f, i in char_ids.items()},
    )
