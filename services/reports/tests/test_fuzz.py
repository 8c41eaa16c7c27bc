"""Property-based run (schemathesis) of the OpenAPI document against the running service: no 5xx."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from services.reports.tests.support import submission

pytestmark = pytest.mark.integration

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(SCHEMATHESIS is None, reason="schemathesis is not installed")
@pytest.mark.timeout(120)
async def test_fuzzing_the_api_finds_no_server_error(reports, tmp_path):
    subs = [submission(), submission("sonky", anonymous=True), submission("csgt", category="traffic")]
    for s in subs:
        await reports.submit(s)
    for s in subs:
        await reports.case_of(s)
    base = reports.url("/").rstrip("/")
    # The supervisor reaches every operation; the officer exercises the refusals. ~45 s in all.
    for role, unit, budget, phases in (
        ("supervisor", None, "28", "examples,coverage,fuzzing,stateful"),
        ("officer", "hinhsu", "12", "coverage,fuzzing"),
    ):
        proc = await asyncio.create_subprocess_exec(
            SCHEMATHESIS,
            "run",
            base + "/api/v1/openapi.json",
            "--url",
            base,
            "--checks",
            "not_a_server_error",
            "--phases",
            phases,
            "--max-examples",
            "15",
            "--max-time",
            budget,
            "--seed",
            "20261130",
            "--generation-database",
            "none",
            "--no-color",
            "--header",
            f"Authorization: Bearer {reports.token(role, unit)}",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        text = out.decode(errors="replace")
        assert proc.returncode == 0, text[-4000:]
        assert "generated," in text and " failed" not in text.split("Test cases:")[-1], text[-2000:]
