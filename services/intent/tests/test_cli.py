"""The blind-scoring commands, as the graders run them: JSON lines in, JSON lines out, in order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devstack.paths import REPO_ROOT

pytestmark = pytest.mark.unit

LINES = [
    {"text": "dang ky tam tru can giay to gi", "oa": "tansonnhi"},
    {"text": "cháy nhà hẻm 12 cứu với"},
    "not json",
    {"text": "sdt cong an phuong son ky", "oa": "tanphu"},
]


def _run(entry: str) -> list[dict]:
    stdin = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in LINES) + "\n"
    out = subprocess.run(
        [sys.executable, "-c", f"from services.intent.cli import {entry}; raise SystemExit({entry}())"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_intent_answer_gives_the_first_reply_per_line_in_order():
    procedure, emergency, invalid, directory = _run("answer_main")
    assert procedure["intent"] == "procedure.temporary_residence" and "CT01" in procedure["text"]
    assert emergency["intent"] == "emergency" and "114" in emergency["text"]
    assert {b["payload"]["phone_code"] for b in emergency["buttons"] if b["type"] == "oa.open.phone"} >= {"113", "114"}
    assert invalid["text"] == "" and invalid["intent"] == "out_of_scope"
    assert directory["intent"] == "directory.lookup" and "Tây Thạnh" in directory["text"]


def test_intent_classify_keeps_line_alignment():
    results = _run("classify_main")
    assert [r["intent"] for r in results] == [
        "procedure.temporary_residence",
        "emergency",
        "out_of_scope",
        "directory.lookup",
    ]
    assert results[2]["confidence"] == 0.0 and all(0 <= r["confidence"] <= 1 for r in results)
