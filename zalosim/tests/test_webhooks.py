"""Webhook events as the gateway receives them: shape, signature, echoes, retries, unsubscribe."""

import base64
import hashlib

from zalosim.media import placeholder_png
from zalosim.tests.support import Sim, SimFactory, poll_until, random_user_id

APP_ID = "4318000000000000000"
TANPHU_OA_ID = "4318000000000000001"


def expected_mac(raw_body: bytes, timestamp: str, secret: str) -> str:
    """The documented formula, computed independently of the simulator."""
    return "mac=" + hashlib.sha256(APP_ID.encode() + raw_body + timestamp.encode() + secret.encode()).hexdigest()


async def test_user_text_arrives_signed_with_the_documented_formula(sim: Sim) -> None:
    user = random_user_id()
    answer = await sim.citizen("tanphu", user, "text", text="Cho tôi hỏi thủ tục tạm trú")
    assert answer["delivery"]["status"] == "delivered"
    [hit] = sim.receiver.hits
    event = hit.event
    assert event["event_name"] == "user_send_text"
    assert event["sender"] == {"id": user}
    assert event["recipient"] == {"id": TANPHU_OA_ID}
    assert event["app_id"] == APP_ID
    assert event["message"] == {"text": "Cho tôi hỏi thủ tục tạm trú", "msg_id": answer["msg_id"]}
    assert isinstance(event["timestamp"], str) and event["timestamp"].isdigit()
    assert hit.headers["X-ZEvent-Signature"] == expected_mac(hit.body, event["timestamp"], "dev-oa-secret-key")
    assert "num_retry" not in hit.headers


async def test_per_oa_secret_override_signs_that_oa_only(make_sim: SimFactory) -> None:
    sim = await make_sim(oa_secret_keys={"csgt": "csgt-secret"})
    await sim.citizen("csgt", random_user_id(), "text", text="a")
    await sim.citizen("tanphu", random_user_id(), "text", text="b")
    csgt_hit, tanphu_hit = sim.receiver.hits
    assert csgt_hit.headers["X-ZEvent-Signature"] == expected_mac(
        csgt_hit.body, csgt_hit.event["timestamp"], "csgt-secret"
    )
    assert tanphu_hit.headers["X-ZEvent-Signature"] == expected_mac(
        tanphu_hit.body, tanphu_hit.event["timestamp"], "dev-oa-secret-key"
    )


async def test_event_shapes_for_location_image_follow_and_submit_info(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "location", latitude=10.7923119, longitude=106.6282651, name="Chợ Tân Phú")
    photo = base64.b64encode(placeholder_png(4, 4, (1, 2, 3))).decode()
    await sim.citizen("tanphu", user, "image", image_base64=photo, text="hiện trường")
    await sim.citizen("tanphu", user, "follow")
    await sim.citizen(
        "tanphu", user, "submit_info", name="Nguyễn Văn A", phone="84912345678", address="12 Lũy Bán Bích"
    )
    location, image, follow, info = (hit.event for hit in sim.receiver.hits)

    coordinates = location["message"]["attachments"][0]["payload"]["coordinates"]
    assert coordinates == {"latitude": "10.7923119", "longitude": "106.6282651"}
    assert location["message"]["text"] == "Chợ Tân Phú"

    payload = image["message"]["attachments"][0]["payload"]
    assert set(payload) == {"thumbnail", "url"}
    downloaded = await sim.client.session.get(payload["url"])
    assert downloaded.status == 200 and (await downloaded.read()).startswith(b"\x89PNG")

    assert "sender" not in follow and "recipient" not in follow
    assert follow["oa_id"] == TANPHU_OA_ID and follow["follower"] == {"id": user}
    assert follow["source"] == "oa_profile"

    assert info["info"]["full_address"]["user_address"] == "12 Lũy Bán Bích"
    assert info["sender"] == {"id": user}
    state = await sim.control("GET", f"/_sim/users/tanphu/{user}")
    assert state["follower"] is True and state["window"] == "reply"


async def test_echo_carries_the_message_id_the_api_returned(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="#thutuc")
    sent = await sim.send_text(user, "Đây là danh sách thủ tục")
    message_id = sent["data"]["message_id"]
    echo = await poll_until(lambda: _first(sim, "oa_send_text"), "the oa_send_text echo")
    assert echo["message"] == {"text": "Đây là danh sách thủ tục", "msg_id": message_id}
    assert echo["sender"] == {"id": TANPHU_OA_ID} and echo["recipient"] == {"id": user}


async def _first(sim: Sim, event_name: str) -> dict | None:
    events = sim.receiver.events(event_name)
    return events[0] if events else None


async def test_failed_delivery_is_retried_with_num_retry_and_the_same_body(sim: Sim) -> None:
    sim.receiver.statuses = [500, 500]
    answer = await sim.citizen("tanphu", random_user_id(), "text", text="alo")
    assert answer["delivery"]["status"] == "retrying"
    await poll_until(lambda: _delivered(sim), "the third attempt to succeed")
    first, second, third = sim.receiver.hits
    assert first.body == second.body == third.body
    assert "num_retry" not in first.headers
    assert (second.headers["num_retry"], third.headers["num_retry"]) == ("1", "2")
    assert second.headers["X-ZEvent-Signature"] == first.headers["X-ZEvent-Signature"]


async def _delivered(sim: Sim) -> bool:
    deliveries = await sim.control("GET", "/_sim/deliveries?event_name=user_send_text")
    [delivery] = deliveries["items"]
    return delivery["status"] == "delivered" and len(delivery["attempts"]) == 3


async def test_slow_answer_counts_as_a_failure(make_sim: SimFactory) -> None:
    sim = await make_sim(webhook_timeout_seconds=0.1)
    sim.receiver.delay = 0.3
    answer = await sim.citizen("tanphu", random_user_id(), "text", text="alo")
    assert answer["delivery"]["status"] == "retrying"
    assert answer["delivery"]["attempts"][0]["error"] == "timeout"


async def test_app_is_unsubscribed_after_the_last_retry_fails(sim: Sim) -> None:
    sim.receiver.statuses = [503] * 6
    await sim.citizen("tanphu", random_user_id(), "text", text="alo")

    async def unsubscribed() -> bool:
        return not (await sim.control("GET", "/_sim/webhook"))["subscribed"]

    await poll_until(unsubscribed, "the app to be unsubscribed")
    [delivery] = (await sim.control("GET", "/_sim/deliveries"))["items"]
    assert delivery["status"] == "failed"
    assert [attempt["num_retry"] for attempt in delivery["attempts"]] == [0, 1, 2, 3, 4, 5]
    later = await sim.citizen("tanphu", random_user_id(), "text", text="còn ai không?")
    assert later["delivery"]["status"] == "not_sent_unsubscribed"
    assert len(sim.receiver.hits) == 6

    await sim.control("POST", "/_sim/webhook", {"subscribed": True})
    again = await sim.citizen("tanphu", random_user_id(), "text", text="alo")
    assert again["delivery"]["status"] == "delivered"
