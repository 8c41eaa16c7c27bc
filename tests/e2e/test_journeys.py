"""Whole-system journeys through the simulator's webhooks only, every service its own process."""

from __future__ import annotations

import pytest

from servicekit.testing import unique
from tests.system import System

pytestmark = pytest.mark.e2e


async def test_follow_then_ask_temporary_residence_without_diacritics(system: System):
    user = str(7_000_000_000_000_000_000 + int(unique("")[:8], 16))
    await system.citizen("tansonnhi", user, "follow")
    (welcome,) = await system.wait_messages("tansonnhi", user, 1)
    assert "Tân Sơn Nhì" in welcome["text"]

    await system.citizen("tansonnhi", user, "text", text="dang ky tam tru can nhung giay to gi vay")
    answer = (await system.wait_messages("tansonnhi", user, 2))[1]
    assert "tạm trú" in answer["text"].lower()
    assert "CT01" in answer["text"]


def _citizen_id() -> str:
    return str(7_000_000_000_000_000_000 + int(unique("")[:8], 16))


async def _say(system: System, oa: str, user: str, seen: int, action: str = "text", **body) -> tuple[int, list[dict]]:
    await system.citizen(oa, user, action, **body)
    messages = await system.wait_messages(oa, user, seen + 1)
    return len(messages), messages


async def _reports_api(
    system: System, token: str, method: str, path: str, body: dict | None = None
) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    async with system.http.request(method, system.url("reports") + path, json=body, headers=headers) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else {})


async def test_anonymous_motorbike_theft_with_location_and_photos_reaches_the_ward_team(system: System):
    from servicekit.testing import poll_until
    from tests.system import officer_token, tiny_png

    oa, user = "tansonnhi", _citizen_id()
    seen, _ = await _say(system, oa, user, 0, text="#baotin")
    seen, _ = await _say(system, oa, user, seen, text="tố giác tội phạm")
    seen, _ = await _say(system, oa, user, seen, text="Xe máy Honda Vision của tôi bị trộm trước nhà")
    seen, _ = await _say(system, oa, user, seen, text="khoảng 22 giờ tối qua")
    seen, _ = await _say(
        system, oa, user, seen, "location", latitude=10.7989, longitude=106.6262, name="Hẻm 25 Lũy Bán Bích"
    )
    seen, _ = await _say(system, oa, user, seen, "image", image_base64=tiny_png(10), text="ảnh camera 1")
    seen, _ = await _say(system, oa, user, seen, "image", image_base64=tiny_png(200), text="ảnh camera 2")
    seen, _ = await _say(system, oa, user, seen, text="xong")
    seen, _ = await _say(system, oa, user, seen, text="ẩn danh")
    seen, _ = await _say(system, oa, user, seen, text="gửi")
    acknowledgement = (await system.wait_messages(oa, user, seen + 1))[-1]["text"]
    code = next(w.strip(".,:;()") for w in acknowledgement.split() if w.startswith("TSN-"))

    officer = officer_token("officer", "tansonnhi")

    async def listed():
        status, body = await _reports_api(system, officer, "GET", "/api/v1/cases?limit=50")
        return next((c for c in body.get("items", []) if c["code"] == code), None) if status == 200 else None

    summary = await poll_until(listed, f"case {code} in the ward team's queue", 30)
    status, case = await _reports_api(system, officer, "GET", f"/api/v1/cases/{summary['id']}")
    assert status == 200
    assert case["reporter"]["anonymous"] is True and user not in str(case)
    assert case["location"] is not None and case["kind"] == "crime"

    async def photos_stored():
        _, c = await _reports_api(system, officer, "GET", f"/api/v1/cases/{summary['id']}")
        return c if len([a for a in c["attachments"] if a["state"] == "stored"]) == 2 else None

    case = await poll_until(photos_stored, "both photos downloaded", 30)
    async with system.http.get(
        system.url("reports") + case["attachments"][0]["href"], headers={"Authorization": f"Bearer {officer}"}
    ) as r:
        assert r.status == 200 and r.content_type.startswith("image/")

    other_unit = officer_token("officer", "csgt", sub="officer-2")
    status, _ = await _reports_api(system, other_unit, "GET", f"/api/v1/cases/{summary['id']}")
    assert status == 404

    version = case["version"]
    for step in ("acknowledged", "investigating", "resolved"):
        body = {"status": step, "version": version, "reason": "Đã tìm lại được xe." if step == "resolved" else None}
        status, changed = await _reports_api(system, officer, "POST", f"/api/v1/cases/{summary['id']}/status", body)
        assert status == 200, changed
        version = changed["version"]

    async def told():
        texts = [m["text"] or "" for m in await system.messages_to(oa, user)]
        return any(code in t and "Đã tìm lại được xe." in t for t in texts)

    await poll_until(told, "the citizen to be told the case is resolved", 30)


async def test_emergency_mid_form_is_answered_first_and_raises_an_urgent_case(system: System):
    from servicekit.testing import poll_until
    from tests.system import officer_token

    oa, user = "taythanh", _citizen_id()
    seen, _ = await _say(system, oa, user, 0, text="#baotin")
    seen, _ = await _say(system, oa, user, seen, text="phản ánh")
    alley = str(int(unique("")[:6], 16) % 900 + 100)
    await system.citizen(oa, user, "text", text=f"cháy nhà ở hẻm {alley} rồi cứu với")
    messages = await system.wait_messages(oa, user, seen + 1)
    emergency = messages[seen]
    assert "113" in emergency["text"] and "114" in emergency["text"]
    assert {b["payload"]["phone_code"] for b in emergency["buttons"] if b["type"] == "oa.open.phone"} >= {"114"}

    supervisor = officer_token("supervisor", None, sub="duty-1")

    async def urgent_case():
        status, body = await _reports_api(system, supervisor, "GET", "/api/v1/cases?priority=urgent&limit=50")
        return [c for c in body.get("items", []) if alley in (c.get("excerpt") or "")] if status == 200 else None

    (case,) = await poll_until(urgent_case, "an urgent case for the emergency", 30)
    assert case["status"] == "received"


async def test_a_two_ward_campaign_reaches_exactly_those_wards_followers_once(system: System):
    from servicekit.testing import poll_until
    from tests.system import fraud_warning_campaign, newsroom_token

    targeted = [("phutrung", _citizen_id()), ("phutrung", _citizen_id()), ("hoathanh", _citizen_id())]
    bystander = ("hieptan", _citizen_id())
    for oa, user in [*targeted, bystander]:
        await system.citizen(oa, user, "follow")
        await system.wait_messages(oa, user, 1)  # the welcome: the follower is registered and active

    tag = unique("")[:6]
    link = f"https://congan.example.vn/tin/{tag}"
    body = fraud_warning_campaign(tag, link, {"wards": ["Phú Trung", "Hòa Thạnh"]})
    editor, supervisor = newsroom_token("editor", "editor-1"), newsroom_token("supervisor", "chief-1")
    news = system.url("news") + "/api/v1"
    async with system.http.post(f"{news}/campaigns", json=body, headers={"Authorization": f"Bearer {editor}"}) as r:
        assert r.status in (200, 201), await r.text()
        campaign = await r.json()
    campaign_id = campaign.get("id") or campaign["campaign_id"]
    async with system.http.post(
        f"{news}/campaigns/{campaign_id}/approve", headers={"Authorization": f"Bearer {supervisor}"}
    ) as r:
        assert r.status == 200, await r.text()

    async def campaign_messages(oa: str, user: str) -> list[dict]:
        return [m for m in await system.messages_to(oa, user) if link in str(m)]

    async def all_reached():
        got = [await campaign_messages(oa, user) for oa, user in targeted]
        return got if all(got) else None

    await poll_until(all_reached, "every targeted follower to get the campaign", 60)

    async def finished():
        async with system.http.get(
            f"{news}/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {supervisor}"}
        ) as r:
            c = await r.json()
        return c if c.get("state", c.get("status")) == "finished" else None

    await poll_until(finished, "the campaign to finish", 60)
    for oa, user in targeted:
        assert len(await campaign_messages(oa, user)) == 1, f"{oa}/{user} got the campaign more or less than once"
    assert await campaign_messages(*bystander) == []

    async def broadcast_per_oa():
        items = (await system.sim("GET", "/_sim/broadcasts"))["items"]
        oas = sorted(b["oa_key"] for b in items if any(tag in t for t in b["titles"]))
        return oas if len(oas) >= 2 else None

    assert await poll_until(broadcast_per_oa, "the article broadcast of each ward OA", 60) == ["hoathanh", "phutrung"]


async def test_cancel_mid_form_and_a_human_handoff_released_by_an_officer(system: System):
    from servicekit.testing import poll_until
    from tests.system import officer_token

    oa, user = "phuthohoa", _citizen_id()
    seen, _ = await _say(system, oa, user, 0, text="#baotin")
    seen, _ = await _say(system, oa, user, seen, text="phản ánh")
    seen, messages = await _say(system, oa, user, seen, text="hủy")
    assert "hủy" in messages[-1]["text"].lower()

    seen, messages = await _say(system, oa, user, seen, text="cho tôi gặp cán bộ trực tiếp")
    assert "cán bộ" in messages[-1]["text"].lower()
    await system.citizen(oa, user, "text", text="alo có ai không")  # the bot stays quiet during the handoff

    supervisor = officer_token("supervisor", None, sub="duty-2")

    async def waiting_handoff():
        status, body = await _reports_api(system, supervisor, "GET", "/api/v1/handoffs")
        items = body.get("items", []) if status == 200 else []
        return next((h for h in items if h["oa_key"] == oa), None)

    handoff = await poll_until(waiting_handoff, "the handoff to reach the officers", 30)
    assert len(await system.messages_to(oa, user)) == seen, "no bot reply while an officer has the conversation"
    status, _ = await _reports_api(system, supervisor, "POST", f"/api/v1/handoffs/{handoff['id']}/release", {})
    assert status == 200
    released = await system.wait_messages(oa, user, seen + 1)
    assert "kết thúc" in released[-1]["text"]
    seen, messages = await _say(system, oa, user, len(released), text="xin chào")
    assert messages[-1]["buttons"], "the bot answers again, with its menu"
