"""What the citizen sees: status answers, waiting notices, retries, handoffs (real Kafka and FerretDB)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import utcnow
from servicekit.testing import poll_until, unique
from services.reports.tests.support import (
    OA,
    handoff,
    inbound,
    new_user,
    outcome_of,
    running,
    settings_for,
    status_request,
    submission,
)

pytestmark = pytest.mark.integration


async def test_a_status_request_is_answered_only_to_the_reporter(reports):
    sub = submission("sonky")
    await reports.submit(sub)
    case = await reports.case_of(sub)
    stranger = new_user()

    await reports.ask_status(status_request(OA["sonky"], sub.user_id, case["code"].lower().replace("-", " ")))
    (mine,) = await answers(reports, sub.user_id, OA["sonky"], 1)
    assert case["code"] in mine.message.text and "đã được tiếp nhận" in mine.message.text

    missing_code = case["code"][:-6] + "999999"
    await reports.ask_status(status_request(OA["sonky"], stranger, case["code"]))
    await reports.ask_status(status_request(OA["sonky"], stranger, missing_code))
    # The reporter's own Zalo id, but written to another OA: another citizen as far as Zalo is concerned.
    await reports.ask_status(status_request(OA["tanphu"], sub.user_id, case["code"]))
    foreign, missing = await answers(reports, stranger, OA["sonky"], 2)
    (other_oa,) = await answers(reports, sub.user_id, OA["tanphu"], 1)
    assert foreign.message.text.replace(case["code"], "CODE") == missing.message.text.replace(missing_code, "CODE")
    assert other_oa.message.text == foreign.message.text
    for answer in (foreign, other_oa):
        assert "không tìm thấy" in answer.message.text
        assert "trộm" not in answer.message.text and "tiếp nhận" not in answer.message.text


async def answers(reports, user_id: str, oa_id: str, count: int) -> list:
    return await reports.outbound.wait_for(
        lambda c: c.user_id == user_id and c.oa_id == oa_id and c.lane == "conversation",
        f"{count} answer(s)",
        count,
    )


async def test_without_a_code_the_citizen_gets_their_own_recent_cases(reports):
    user = new_user()
    mine = [submission("tanquy", user) for _ in range(2)]
    theirs = submission("tanquy")
    for s in (*mine, theirs):
        await reports.submit(s)
    cases = [await reports.case_of(s) for s in (*mine, theirs)]
    await reports.ask_status(status_request(OA["tanquy"], user, None))
    (answer,) = await answers(reports, user, OA["tanquy"], 1)
    assert cases[0]["code"] in answer.message.text and cases[1]["code"] in answer.message.text
    assert cases[2]["code"] not in answer.message.text


async def test_a_waiting_notice_is_delivered_when_the_citizen_writes_again_to_any_oa(reports):
    user_at_district, app_user = new_user(), unique("app")
    await reports.zalo(inbound("tanphu", user_at_district, app_user=app_user))
    sub = submission("tanphu", user_at_district)
    await reports.submit(sub)
    case = await reports.case_of(sub)
    (ack,) = await reports.acks_for(user_at_district)
    await reports.deliver(outcome_of(ack))
    token = reports.token("officer", "hinhsu")
    status, changed, _ = await reports.call(
        "POST", f"/api/v1/cases/{case['_id']}/status", token, body={"status": "acknowledged", "version": 1}
    )
    assert status == 200
    first = (await reports.acks_for(user_at_district, 2))[1]
    assert first.context["notice_id"] == changed["notice_id"]
    await reports.deliver(outcome_of(first, status="failed", reason="window_closed", zalo_error=-230))

    async def waiting():
        _, body, _ = await reports.call("GET", "/api/v1/notices", token, params={"state": "waiting"})
        return [n for n in body["items"] if n["id"] == changed["notice_id"]] or None

    (pending,) = await poll_until(waiting, "the notice to wait for the citizen")
    assert (pending["case_code"], pending["kind"], pending["reason"], pending["zalo_error"]) == (
        case["code"],
        "acknowledged",
        "window_closed",
        -230,
    )

    user_at_ward = new_user()  # the same person, as the ward OA knows them
    await reports.zalo(inbound("sonky", user_at_ward, app_user=app_user))
    (again,) = await reports.outbound.wait_for(lambda c: c.user_id == user_at_ward, "the notice from the ward OA")
    assert again.oa_id == OA["sonky"] and again.message.text == first.message.text
    assert again.command_id != first.command_id and again.context["attempt"] == "2"
    await reports.deliver(outcome_of(again))

    async def delivered():
        _, body, _ = await reports.call("GET", "/api/v1/notices", token)
        return not [n for n in body["items"] if n["id"] == changed["notice_id"]]

    await poll_until(delivered, "the notice to be delivered")
    await reports.zalo(inbound("sonky", user_at_ward, app_user=app_user))
    await reports.zalo(inbound("tanphu", user_at_district, app_user=app_user))
    marker = submission("tanphu")  # a later record on the same topics: once handled, the events above were too
    await reports.submit(marker)
    await reports.acks_for(marker.user_id)
    await _settle(reports)
    sends = reports.outbound.matching(lambda c: c.context.get("notice_id") == changed["notice_id"])
    assert sorted({c.command_id for c in sends}) == sorted({first.command_id, again.command_id}), "never sent twice"


async def test_a_notice_waits_when_the_citizen_is_known_to_be_outside_the_window(infra, topic_prefix):
    shift = [timedelta(0)]
    async with running(settings_for(infra, topic_prefix), clock=lambda: utcnow() + shift[0]) as reports:
        sub = submission("sonky")
        await reports.submit(sub)
        case = await reports.case_of(sub)
        (ack,) = await reports.acks_for(sub.user_id)
        await reports.deliver(outcome_of(ack))
        shift[0] = timedelta(days=8)  # the citizen has been silent for 8 days
        token = reports.token("supervisor")
        status, changed, _ = await reports.call(
            "POST", f"/api/v1/cases/{case['_id']}/status", token, body={"status": "acknowledged", "version": 1}
        )
        assert status == 200
        _, body, _ = await reports.call("GET", "/api/v1/notices", token)
        (waiting,) = [n for n in body["items"] if n["id"] == changed["notice_id"]]
        assert (waiting["state"], waiting["attempt"]) == ("waiting", 0)
        await reports.zalo(inbound("sonky", sub.user_id, at=utcnow() + shift[0]))
        sent = await reports.outbound.wait_for(
            lambda c: c.context.get("notice_id") == changed["notice_id"], "the notice once the citizen writes"
        )
        assert sent[0].oa_id == OA["sonky"] and sent[0].user_id == sub.user_id


async def test_a_transient_failure_is_retried_from_the_same_oa(infra, topic_prefix):
    settings = settings_for(infra, topic_prefix, notice_retry_backoff_s=0.2)
    async with running(settings) as reports:
        sub = submission("csgt", category="traffic")
        await reports.submit(sub)
        (ack,) = await reports.acks_for(sub.user_id)
        await reports.deliver(outcome_of(ack, status="failed", reason="transient", zalo_error=-200))
        retried = await reports.outbound.wait_for(
            lambda c: c.context.get("notice_id") == ack.context["notice_id"] and c.context["attempt"] == "2",
            "the retry",
        )
        assert retried[0].oa_id == ack.oa_id and retried[0].command_id != ack.command_id


async def test_handoff_requests_are_listed_and_released_by_an_officer(reports):
    user = new_user()
    await reports.hand_off(handoff("tanphu", user))
    qlhc, other = reports.token("officer", "qlhc"), reports.token("officer", "hinhsu")

    async def listed():
        _, body, _ = await reports.call("GET", "/api/v1/handoffs", qlhc)
        return body["items"] or None

    (item,) = await poll_until(listed, "the handoff request")
    assert item["pseudonym"].startswith("CD-") and user not in str(item) and item["unit"] == "qlhc"
    assert (await reports.call("GET", "/api/v1/handoffs", other))[1]["items"] == []
    assert (await reports.call("POST", f"/api/v1/handoffs/{item['id']}/release", other))[0] == 404
    status, body, _ = await reports.call("POST", f"/api/v1/handoffs/{item['id']}/release", qlhc)
    assert (status, body["released"]) == (200, True)
    (released,) = await reports.handoffs.wait_for(lambda e: e.change == "released", "the release")
    assert (released.oa_id, released.user_id, released.by) == (OA["tanphu"], user, "officer-1")
    assert (await reports.call("POST", f"/api/v1/handoffs/{item['id']}/release", qlhc))[0] == 409
    assert (await reports.call("GET", "/api/v1/handoffs", qlhc))[1]["items"] == []


async def _settle(reports) -> None:
    """Wait until the service has consumed everything published so far (consumer lag 0)."""
    group = reports.settings.group

    async def caught_up():
        samples = [
            s
            for m in reports.prometheus.collect()
            if m.name == "zan_consumer_lag_messages"
            for s in m.samples
            if s.labels.get("group") == group
        ]
        return bool(samples) and all(s.value == 0 for s in samples)

    await poll_until(caught_up, "the consumer to catch up", 30)


async def _async(value):
    return value
