"""`intent-classify`: one output line per input line, in order, whatever the input."""

import io
import json

import pytest

from services.intent.cli import classify_lines

pytestmark = pytest.mark.unit


def test_one_answer_per_line_in_order_even_for_bad_lines() -> None:
    lines = [
        json.dumps({"text": "cứu với nhà tôi đang cháy"}, ensure_ascii=False) + "\n",
        "\n",
        "this is not json\n",
        json.dumps({"text": 42}) + "\n",
        json.dumps(["text"]) + "\n",
        json.dumps({"text": "cảm ơn nhiều"}, ensure_ascii=False) + "\n",
    ]
    out = io.StringIO()
    assert classify_lines(lines, out) == len(lines)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a["intent"] for a in answers] == [
        "emergency",
        "out_of_scope",
        "out_of_scope",
        "out_of_scope",
        "out_of_scope",
        "thanks",
    ]
    assert answers[1]["confidence"] == 0.0
    assert all(0.0 <= a["confidence"] <= 1.0 for a in answers)
    assert all(set(a) == {"intent", "confidence"} for a in answers)
