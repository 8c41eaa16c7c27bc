"""The officer console in a real browser (Debian's headless Chromium, driven by playwright-core) against
the whole system: an officer works the unit's queue and resolves a case, the citizen is told; an editor
drafts, a supervisor approves, the campaign reaches 100 %. Screenshots go to test-artifacts/console/.

Needs `bash tests/browser/install.sh` once (chromium via apt-get, playwright-core via npm ci); without it
the test fails, it never skips.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from servicekit.auth import mint
from servicekit.testing import poll_until
from services.news.settings import NewsSettings
from services.reports import domain as reports_domain
from services.reports.settings import DEV_JWT_SECRET, ReportsSettings
from tests.system import System

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
CHROMIUM = Path("/usr/bin/chromium")
SPEC = HERE / "console.spec.mjs"
CASE_CODE = re.compile(r"\b[A-Z]{2,4}-\d{2}-\d{6}\b")
OFFICER_UNIT, OTHER_UNIT, TRANSFER_TO = "tansonnhi", "taythanh", "tanquy"
RESOLUTION = "Đã tìm lại được xe máy và bàn giao cho chủ xe."
SCREENSHOTS = ("sign-in", "desk", "desk-phone", "case", "newsroom-editor", "campaign-progress")


def _browser_or_fail() -> None:
    problems = []
    if not CHROMIUM.exists():
        problems.append("/usr/bin/chromium is missing")
    if shutil.which("node") is None:
        problems.append("node is missing")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        problems.append("playwright-core is not in tests/browser/node_modules")
    if problems:
        pytest.fail(
            "the browser test cannot run: " + "; ".join(problems) + ". Install with `bash tests/browser/install.sh`"
            " (apt-get install chromium, npm ci); .ci/run must call it before the tests.",
            pytrace=False,
        )


def _user() -> str:
    return "7" + str(uuid.uuid4().int)[:17]


def _png(width: int = 96, height: int = 64) -> bytes:
    """A small red PNG: the photo a citizen attaches."""
    raw = b"".join(b"\x00" + b"\xc8\x1e\x1e" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


async def _say(system: System, oa: str, user: str, action: str, **body: Any) -> list[dict]:
    """The citizen does something and the OA answers (one more message than before)."""
    before = len(await system.messages_to(oa, user))
    await system.citizen(oa, user, action, **body)
    return await system.wait_messages(oa, user, before + 1)


async def _case_code(system: System, oa: str, user: str) -> str:
    async def code() -> str | None:
        for m in await system.messages_to(oa, user):
            found = CASE_CODE.search(m.get("text") or "")
            if found:
                return found.group(0)
        return None

    return await poll_until(code, f"a case code sent to {user}", 30)


async def _report_with_photo(system: System, oa: str, user: str) -> str:
    """The report form through the simulator: description, time, location, a photo, anonymous."""
    await _say(system, oa, user, "follow")
    await _say(system, oa, user, "text", text="#baotin")
    await _say(system, oa, user, "text", text="tố giác")
    await _say(system, oa, user, "text", text="Tối qua nhà tôi ở hẻm 12 bị kẻ gian cạy khóa lấy mất xe máy Wave đỏ")
    await _say(system, oa, user, "text", text="khoảng 10 giờ tối qua")
    await _say(system, oa, user, "location", latitude=10.7969, longitude=106.6297, name="Hẻm 12 Lũy Bán Bích")
    await _say(system, oa, user, "image", image_base64=base64.b64encode(_png()).decode())
    await _say(system, oa, user, "text", text="xong")
    await _say(system, oa, user, "text", text="ẩn danh")
    await _say(system, oa, user, "text", text="gửi")
    return await _case_code(system, oa, user)


async def _emergency(system: System, oa: str, user: str) -> str:
    await _say(system, oa, user, "text", text="#baotin")
    await system.citizen(oa, user, "text", text="Cứu với, có cướp đang cầm dao trong nhà tôi")
    return await _case_code(system, oa, user)


def _reports_token(role: str, unit: str | None) -> str:
    s = ReportsSettings.model_fields
    return mint(
        DEV_JWT_SECRET.get_secret_value(),
        sub="test-supervisor",
        role=role,
        unit=unit,
        issuer=s["jwt_issuer"].default,
        audience=s["jwt_audience"].default,
    )


def _news_token(sub: str, role: str) -> str:
    s = NewsSettings.model_fields
    return mint(
        s["jwt_hs256_secret"].default.get_secret_value(),
        sub=sub,
        role=role,
        unit="tanphu",
        issuer=s["jwt_issuer"].default,
        audience=s["jwt_audience"].default,
        ttl_s=600,
    )


async def _through_console(system: System, method: str, path: str, token: str, body: Any = None) -> Any:
    """A call as oauth2-proxy would pass it: the console forwards the bearer token."""
    headers = {"Authorization": f"Bearer {token}", "X-Requested-By": "zan-console"}
    async with system.http.request(method, system.url("console") + path, json=body, headers=headers) as r:
        data = await r.json()
        assert r.status < 300, (r.status, data)
        return data


async def _photo_stored(system: System, code: str) -> None:
    token = _reports_token("supervisor", None)

    async def stored() -> bool:
        case = await _through_console(system, "GET", f"/api/reports/v1/cases/{code}", token)
        return bool(case["attachments"]) and all(a["state"] == "stored" for a in case["attachments"])

    await poll_until(stored, f"the photo of {code} stored", 30)


def _campaign(title: str, **overrides: Any) -> dict[str, Any]:
    return {
        "title": title,
        "summary": "Lịch tiếp công dân của Công an phường trong tháng.",
        "cover_url": "https://cdn.congan-tanphu.example/lich.jpg",
        "body": [{"type": "text", "content": "Thứ Bảy hằng tuần, từ 8 giờ đến 11 giờ."}],
        "link": "https://congan-tanphu.example/tin/lich-tiep-dan",
        "target": {"oa_keys": [OFFICER_UNIT]},
        "channels": {"article": True, "direct": True, "allow_billed": False},
        **overrides,
    }


async def _run_spec(env: dict[str, str]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SPEC),
        cwd=str(HERE),
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home()), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 150)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("the browser script did not finish within 150 s")
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    assert lines, f"no result from the browser script (exit {proc.returncode}):\n{stderr.decode()[-3000:]}"
    result = json.loads(lines[-1])
    assert not result.get("error"), f"browser script failed: {result['error']}\n{stderr.decode()[-2000:]}"
    assert proc.returncode == 0, stderr.decode()[-2000:]
    return result


@pytest.mark.timeout(300)
async def test_officers_and_editors_work_in_the_console(system: System) -> None:
    _browser_or_fail()
    citizen, other, live = _user(), _user(), _user()
    case_a, case_b = await asyncio.gather(
        _report_with_photo(system, OFFICER_UNIT, citizen), _emergency(system, OTHER_UNIT, other)
    )
    await _photo_stored(system, case_a)
    editor = _news_token("bientap02", "editor")
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    scheduled = await _through_console(
        system, "POST", "/api/news/v1/campaigns", editor, _campaign("Lịch tiếp dân tháng sau", send_at=later)
    )
    own = await _through_console(
        system, "POST", "/api/news/v1/campaigns", _news_token("chihuy01", "supervisor"), _campaign("Tin tự soạn")
    )
    title = f"Cảnh báo lừa đảo qua điện thoại {uuid.uuid4().hex[:6]}"
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)

    out = await _run_spec(
        {
            "CONSOLE_URL": system.url("console"),
            "SIM_URL": system.url("zalosim"),
            "ARTIFACTS": str(ARTIFACTS),
            "OFFICER_UNIT": OFFICER_UNIT,
            "CASE_A": case_a,
            "CASE_B": case_b,
            "LIVE_OA": OFFICER_UNIT,
            "LIVE_USER": live,
            "RESOLUTION": RESOLUTION,
            "TRANSFER_TO": TRANSFER_TO,
            "CAMPAIGN_OA": OFFICER_UNIT,
            "CAMPAIGN_TITLE": title,
            "SCHEDULED_ID": scheduled["id"],
            "OWN_ID": own["id"],
        }
    )

    # The sign-in is the development one, and says so.
    assert "CHỈ DÙNG CHO PHÁT TRIỂN" in out["sign_in_text"] and "CHỈ DÙNG CHO PHÁT TRIỂN" in out["dev_banner"]
    assert out["lang"] == "vi"

    # The officer sees the unit's cases only; new ones arrive without reloading, urgent first.
    officer = out["officer"]
    assert officer["nav"] == ["Hồ sơ tin báo"]
    codes = {r["code"] for r in officer["rows"]}
    assert case_a in codes and case_b not in codes
    assert {r["unit"] for r in officer["rows_after"]} == {OFFICER_UNIT}
    live_code = await _case_code(system, OFFICER_UNIT, live)
    assert out["live"]["code"] == live_code and out["live"]["same_page"] is True
    assert out["live"]["first_row_priority"] == "urgent"
    assert "hồ sơ mới" in out["live"]["announced"]

    # The case: photo through the console, anonymous reporter, map link; only allowed transitions offered.
    assert officer["case_heading"] == f"Hồ sơ {case_a}"
    assert officer["photos_loaded"] == 1 and officer["photo_src"].startswith("/api/reports/v1/cases/")
    assert officer["reporter"] == "Ẩn danh"
    assert officer["map_link"].startswith("https://www.openstreetmap.org/?mlat=10.796900&mlon=106.629700")
    for status, offered in officer["offered"].items():
        assert offered == sorted(reports_domain.TRANSITIONS[status] - {"transferred"}), status
    assert officer["history"] >= 5

    # The auditor reads, with the audit trail of the case; a supervisor transfers a case of another unit.
    assert out["auditor"]["read_only"] is True and out["auditor"]["status_buttons"] == 0
    assert out["auditor"]["audit_rows"] >= 5 and "case.read" in out["auditor"]["audit_actions"]
    assert out["supervisor"]["transferred_unit"] == "Công an phường Tân Quý"
    assert out["supervisor"]["offered_after_transfer"] == sorted(
        reports_domain.TRANSITIONS["transferred"] - {"transferred"}
    )

    # The citizen was told, through Zalo.
    async def told() -> bool:
        return any(RESOLUTION in (m.get("text") or "") for m in await system.messages_to(OFFICER_UNIT, citizen))

    await poll_until(told, "the resolution notice to the citizen", 30)

    # Newsroom: preview and reach, four eyes, approval, progress to 100 %, lifecycle.
    editor_view = out["editor"]
    assert editor_view["nav"] == ["Tin tức"] and editor_view["can_approve"] is False
    assert editor_view["preview_title"] == title and "Xem chi tiết" in editor_view["preview_buttons"]
    assert title in editor_view["preview_dm"] and "Xem chi tiết: https://" in editor_view["preview_dm"]
    assert editor_view["reach_followers"] >= 1
    assert editor_view["edited_summary"].startswith("Công an phường cảnh báo: không chuyển tiền")
    supervisor = out["supervisor"]
    assert supervisor["nav"] == ["Hồ sơ tin báo", "Tin tức"]
    assert supervisor["own_approve_enabled"] is False and "bốn mắt" in supervisor["own_hint"]
    assert supervisor["percents"][-1] == 100 and supervisor["final_state"] == "finished"
    assert supervisor["paused_actions"] == ["resume", "cancel"]
    campaign = await _through_console(
        system, "GET", f"/api/news/v1/campaigns/{editor_view['campaign_id']}", _news_token("x", "supervisor")
    )
    assert (campaign["author"], campaign["approved_by"], campaign["state"]) == ("bientap01", "chihuy01", "finished")

    # Accessible and sound: contrast, labels, keyboard, no script errors, nothing blocked by the CSP.
    a11y = out["a11y"]
    for page in ("sign_in", "desk", "case", "newsroom_editor", "campaign"):
        assert a11y[page]["violations"] == [], (page, a11y[page]["violations"])
        assert a11y[page]["unlabelled"] == [], (page, a11y[page]["unlabelled"])
    assert a11y["keyboard_reaches_sign_in"] is True and a11y["focus_outline"] != "none"
    assert a11y["phone_overflow"] is False
    assert out["page_errors"] == [] and out["csp_errors"] == []
    for name in SCREENSHOTS:
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5000, name
