"""CS messages through the API: windows on the simulator clock, validation, uploads, the journal."""

import io

import aiohttp

from zalosim.media import placeholder_png
from zalosim.tests.support import Sim, SimFactory, random_user_id

HOUR = 3600


async def test_reply_is_free_then_billed_then_refused_as_the_clock_advances(make_sim: SimFactory) -> None:
    sim = await make_sim(token_ttl_seconds=30 * 24 * HOUR)  # outlive the clock jumps below
    await sim.grant("tanphu")
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="Xin chào")
    free = await sim.send_text(user, "Chào bạn")
    assert free["error"] == 0
    assert free["data"]["quota"]["quota_type"] == "reply"
    assert free["data"]["user_id"] == user

    await sim.control("POST", "/_sim/clock/advance", {"seconds": 49 * HOUR})
    billed = await sim.send_text(user, "Bạn còn cần hỗ trợ không?")
    assert billed["data"]["quota"]["quota_type"] == "sub_quota"

    await sim.control("POST", "/_sim/clock/advance", {"seconds": 6 * 24 * HOUR})
    refused = await sim.send_text(user, "Alo?")
    assert refused == {"error": -230, "message": "User has not interacted with the OA in the past 7 days"}

    await sim.citizen("tanphu", user, "text", text="#thutuc")  # a button tap reopens the window
    assert (await sim.send_text(user, "Thủ tục:"))["data"]["quota"]["quota_type"] == "reply"

    quotas = [m["quota_type"] for m in (await sim.control("GET", f"/_sim/messages?user_id={user}"))["items"]]
    assert quotas == ["reply", "sub_quota", "reply"]


async def test_user_who_never_interacted_is_refused(sim: Sim) -> None:
    assert (await sim.send_text(random_user_id(), "Xin chào"))["error"] == -230


async def test_last_interaction_can_be_set_directly(sim: Sim) -> None:
    user = random_user_id()
    await sim.control("POST", f"/_sim/users/tanphu/{user}/last_interaction", {"seconds_ago": 3 * 24 * HOUR})
    assert (await sim.send_text(user, "x"))["data"]["quota"]["quota_type"] == "sub_quota"


async def test_text_over_2000_characters_is_invalid(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="hi")
    assert await sim.send_text(user, "a" * 2001) == {"error": -201, "message": "text is invalid"}
    assert (await sim.send_text(user, "a" * 2000))["error"] == 0


async def test_buttons_are_recorded_for_the_citizen(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="menu")
    buttons = [
        {"title": "Thủ tục hành chính", "type": "oa.query.show", "payload": "#thutuc"},
        {"title": "Gọi trực ban", "type": "oa.open.phone", "payload": {"phone_code": "02838100001"}},
    ]
    body = {
        "recipient": {"user_id": user},
        "message": {"text": "Bạn cần gì?", "attachment": {"type": "template", "payload": {"buttons": buttons}}},
    }
    assert (await sim.post("/v3.0/oa/message/cs", body))["error"] == 0
    [message] = (await sim.control("GET", f"/_sim/messages?oa_key=tanphu&user_id={user}"))["items"]
    assert message["type"] == "buttons"
    assert message["text"] == "Bạn cần gì?"
    assert message["buttons"] == buttons


async def test_bad_payload_shapes_answer_201(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="hi")
    assert (await sim.post("/v3.0/oa/message/cs", {"message": {"text": "x"}}))["message"] == "recipient is invalid"
    bad_id = {"recipient": {"user_id": "abc"}, "message": {"text": "x"}}
    assert (await sim.post("/v3.0/oa/message/cs", bad_id))["message"] == "user_id is invalid"
    response = await sim.client.post(
        "/v3.0/oa/message/cs", data=b"{not json", headers={"access_token": sim.tokens["tanphu"]}
    )
    assert response.status == 200 and (await response.json())["error"] == -201


async def _upload(sim: Sim, data: bytes, filename: str) -> dict:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename=filename, content_type="application/octet-stream")
    response = await sim.client.post("/v2.0/oa/upload/image", data=form, headers={"access_token": sim.tokens["tanphu"]})
    return await response.json()


async def test_uploaded_image_is_sent_by_attachment_id(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="ảnh?")
    uploaded = await _upload(sim, placeholder_png(8, 8, (9, 9, 9)), "a.png")
    attachment_id = uploaded["data"]["attachment_id"]
    element = {"media_type": "image", "attachment_id": attachment_id}
    body = {
        "recipient": {"user_id": user},
        "message": {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}},
    }
    assert (await sim.post("/v3.0/oa/message/cs", body))["error"] == 0
    [message] = (await sim.control("GET", f"/_sim/messages?user_id={user}"))["items"]
    assert message["type"] == "image"
    image = await sim.client.session.get(message["image_url"])
    assert (await image.read()).startswith(b"\x89PNG")


async def test_upload_rejects_other_files_and_large_images(sim: Sim) -> None:
    message = "file is invalid. We only support png and jpeg"
    assert await _upload(sim, b"%PDF-1.7 ...", "a.pdf") == {"error": -201, "message": message}
    big = b"\xff\xd8\xff" + b"0" * (1024 * 1024)
    assert await _upload(sim, big, "big.jpg") == {"error": -201, "message": message}


async def test_user_detail_reports_follow_state_tags_and_date(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "follow", display_name="Trần Thị B")
    await sim.post("/v2.0/oa/tag/tagfollower", {"user_id": user, "tag_name": "Phường Tây Thạnh"})
    detail = (await sim.get("/v3.0/oa/user/detail", {"user_id": user}))["data"]
    assert detail["user_id"] == user
    assert detail["display_name"] == "Trần Thị B"
    assert detail["user_is_follower"] is True
    assert detail["tags_and_notes_info"]["tag_names"] == ["Phường Tây Thạnh"]
    day, month, year = detail["user_last_interaction_date"].split("/")
    assert len(day) == 2 and len(month) == 2 and len(year) == 4
    assert (await sim.get("/v3.0/oa/user/detail", {"user_id": random_user_id()}))["error"] == -201


async def test_unknown_path_is_404(sim: Sim) -> None:
    response = await sim.client.post("/v3.0/oa/message", json={}, headers={"access_token": sim.tokens["tanphu"]})
    assert response.status == 404
