"""Evaluate the intent classifier on the development set: `python -m services.intent.eval [data.jsonl]`.

Prints accuracy, macro-F1, per-intent precision/recall, the most frequent confusions, emergency
recall, classification latency (p50/p99) and throughput on one process, next to a plain keyword
matcher (`keyword_baseline`) used as the benchmark's point of comparison.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.intent.nlu.classifier import INTENTS, Example, load_examples
from services.intent.nlu.normalize import fold
from services.intent.nlu.understand import DATA_DIR, Engine

# -- keyword baseline ----------------------------------------------------------------------------

# One folded keyword list per intent; the intent with the most keyword hits wins (ties: list order),
# no hit at all is out_of_scope. Deliberately simple: it is what the classifier must beat.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "emergency": (
        "cuu",
        "chay nha",
        "dang chay",
        "dang bi",
        "bi dam",
        "bi chem",
        "bat tinh",
        "duoi nuoc",
        "chay mau",
        "bi thuong",
        "khoi",
        "co cuop",
        "tai nan",
    ),
    "report.status": ("tinh trang", "tien do", "ma ho so", "ket qua", "da xu ly chua", "toi dau roi"),
    "procedure.temporary_absence": ("tam vang",),
    "procedure.temporary_residence": ("tam tru", "kt3"),
    "procedure.permanent_residence": ("thuong tru", "nhap khau", "nhap ho khau", "chuyen khau", "cat khau"),
    "procedure.stay_notice": ("luu tru", "o lai", "qua dem", "khach"),
    "procedure.residence_update": ("so ho khau", "tach ho", "ct07", "xac nhan cu tru", "chu ho", "thong tin cu tru"),
    "procedure.identity_card": ("can cuoc", "cccd", "cmnd", "chung minh", "vneid", "dinh danh"),
    "procedure.fire_safety": ("pccc", "phong chay", "chua chay", "bao chay", "thoat hiem"),
    "procedure.vehicle_registration": ("dang ky xe", "bien so", "sang ten", "cavet", "ca vet"),
    "procedure.seal_registration": ("con dau", "mau dau", "khac dau"),
    "report.crime": ("to giac", "trom", "lua dao", "ma tuy", "bi lua", "cuop", "danh bac", "trinh bao"),
    "report.public_order": (
        "karaoke",
        "on ao",
        "tieng on",
        "via he",
        "tu tap",
        "dua xe",
        "xa rac",
        "dau xe",
        "lan chiem",
    ),
    "directory.lookup": ("dia chi", "so dien thoai", "sdt", "gio lam viec", "o dau", "hotline"),
    "news": ("tin tuc", "nhan tin", "ban tin", "tin moi", "thong bao moi", "canh bao"),
    "handoff.human": ("can bo", "nguoi that", "nhan vien", "gap"),
    "thanks": ("cam on", "cam on", "tks", "thank"),
    "help": ("huong dan", "tro giup", "menu", "help", "ho tro", "lam duoc gi"),
    "greeting": ("chao", "alo", "hello", "hi"),
}


def keyword_baseline(text: str) -> str:
    """A plain keyword matcher over the folded text: the intent with the most keyword hits."""
    padded = f" {' '.join(fold(text).split())} "
    best, best_hits = "out_of_scope", 0
    for intent, keywords in _KEYWORDS.items():
        hits = sum(f" {k} " in padded for k in keywords)
        if hits > best_hits:
            best, best_hits = intent, hits
    return best


# -- metrics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Classification quality of one predictor on one labelled set."""

    accuracy: float
    macro_f1: float
    per_intent: dict[str, tuple[float, float, float, int]]  # precision, recall, F1, support
    confusions: list[tuple[tuple[str, str], int]]  # (gold, predicted), count; most frequent first


def score(gold: Sequence[str], predicted: Sequence[str]) -> Report:
    """Accuracy, macro-F1 over the intents present in `gold`, per-intent figures, confusion pairs."""
    pairs = list(zip(gold, predicted, strict=True))
    per_intent = {}
    for intent in INTENTS:
        support = sum(g == intent for g in gold)
        if not support:
            continue
        tp = sum(g == p == intent for g, p in pairs)
        fp = sum(p == intent != g for g, p in pairs)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[intent] = (precision, recall, f1, support)
    confusions = Counter((g, p) for g, p in pairs if g != p).most_common()
    return Report(
        accuracy=sum(g == p for g, p in pairs) / len(pairs),
        macro_f1=statistics.fmean(f1 for _, _, f1, _ in per_intent.values()),
        per_intent=per_intent,
        confusions=confusions,
    )


def latency(classify: Callable[[str], object], texts: Sequence[str], rounds: int = 5) -> tuple[float, float, float]:
    """p50 and p99 milliseconds per message, and messages per second, over `rounds` passes."""
    timings = []
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            classify(text)
            timings.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    timings.sort()
    p50 = timings[len(timings) // 2] * 1000
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000
    return p50, p99, len(timings) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the classifier and of the keyword baseline."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DATA_DIR / "dev.jsonl"
    examples: list[Example] = load_examples(path)
    started = time.perf_counter()
    engine = Engine()
    trained_in = time.perf_counter() - started
    gold = [e.intent for e in examples]
    texts = [e.text for e in examples]
    predicted = [engine.understand(t).intent for t in texts]
    baseline = [keyword_baseline(t) for t in texts]
    model, keywords = score(gold, predicted), score(gold, baseline)

    print(f"data: {path} ({len(examples)} messages); model trained in {trained_in:.2f} s")
    print(f"{'':32} {'classifier':>10} {'keywords':>10}")
    print(f"{'accuracy':32} {model.accuracy:10.3f} {keywords.accuracy:10.3f}")
    print(f"{'macro-F1':32} {model.macro_f1:10.3f} {keywords.macro_f1:10.3f}")
    emergency = model.per_intent.get("emergency")
    if emergency:
        print(f"{'emergency recall':32} {emergency[1]:10.3f} {keywords.per_intent['emergency'][1]:10.3f}")
    print()
    print(f"{'intent':32} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>4}   {'kw F1':>6}")
    for intent, (precision, recall, f1, support) in model.per_intent.items():
        print(
            f"{intent:32} {precision:9.3f} {recall:7.3f} {f1:6.3f} {support:4d}   {keywords.per_intent[intent][2]:6.3f}"
        )
    print()
    print("most frequent confusions (gold → predicted):")
    for (g, p), count in model.confusions[:10] or [(("-", "-"), 0)]:
        print(f"  {count:3d}  {g} → {p}")
    print()
    p50, p99, rate = latency(engine.understand, texts)
    print(f"latency per message: p50 {p50:.3f} ms, p99 {p99:.3f} ms; {rate:,.0f} messages/s (one process)")
    k50, k99, krate = latency(keyword_baseline, texts)
    print(f"keyword baseline:    p50 {k50:.3f} ms, p99 {k99:.3f} ms; {krate:,.0f} messages/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
