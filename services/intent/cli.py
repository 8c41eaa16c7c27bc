"""Command-line entry points of the intent service that need no running services."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TextIO

from services.intent.nlu.understand import understand


def _text_of(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    text = record.get("text") if isinstance(record, dict) else None
    return text if isinstance(text, str) else None


def classify_lines(lines: Iterable[str], out: TextIO) -> int:
    """Write one `{"intent", "confidence"}` JSON line per input line, in order; returns the count.

    A blank or invalid line (not JSON, no string "text") still gets an answer, out_of_scope with
    confidence 0, so that output line N always belongs to input line N.
    """
    count = 0
    for line in lines:
        text = _text_of(line)
        if text is None or not text.strip():
            answer = {"intent": "out_of_scope", "confidence": 0.0}
        else:
            result = understand(text)
            answer = {"intent": result.intent, "confidence": result.confidence}
        out.write(json.dumps(answer) + "\n")
        out.flush()
        count += 1
    return count


def classify_main() -> int:
    """`intent-classify`: JSON lines `{"text": ...}` on stdin → `{"intent", "confidence"}` on stdout."""
    classify_lines(sys.stdin, sys.stdout)
    return 0


def answer_lines(lines: Iterable[str], out: TextIO, default_oa: str = "tanphu") -> int:
    """Write, per input line `{"text", "oa"}`, the first reply a new citizen would get, in order."""
    from servicekit.registry import DEFAULT_MERGERS, DEFAULT_REGISTRY
    from services.intent.conversation.model import Directory
    from services.intent.domain import first_reply
    from services.intent.knowledge import load_knowledge

    directory = Directory.from_config(
        json.loads(DEFAULT_REGISTRY.read_text(encoding="utf-8")),
        json.loads(DEFAULT_MERGERS.read_text(encoding="utf-8")),
    )
    keys = {oa["key"] for oa in json.loads(DEFAULT_REGISTRY.read_text(encoding="utf-8"))["oas"]}
    knowledge = load_knowledge()
    count = 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        text = record.get("text") if isinstance(record, dict) else None
        oa = record.get("oa") if isinstance(record, dict) and record.get("oa") else default_oa
        if not isinstance(text, str) or not text.strip() or oa not in keys:
            answer = {"intent": "out_of_scope", "text": "", "buttons": [], "error": "invalid line or unknown oa"}
        else:
            reply = first_reply(text, oa, directory, knowledge=knowledge)
            answer = {"intent": reply["intent"], "text": reply["text"], "buttons": reply["buttons"]}
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()
        count += 1
    return count


def answer_main() -> int:
    """`intent-answer`: JSON lines `{"text", "oa"}` → `{"intent", "text", "buttons"}`, no services needed."""
    answer_lines(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(classify_main())
